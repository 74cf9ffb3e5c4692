/**
 * Documents from local files: JSONL (plain, `.xz` or `.zst`), parquet, or a folder of `.txt` files. Every task's
 * `--data PATH` goes through here, and so do the hub datasets once downloaded.
 */
import { closeSync, createReadStream, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { Readable } from "node:stream";
import { createInterface } from "node:readline";
import { unzipSync } from "fflate";
import { Decompress } from "fzstd";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import xz from "xz-decompress";

import { UsageError } from "../errors.js";

/** One long text and what names it. `fields` keeps the record's other values for tasks that need them. */
export interface DocumentRecord {
  id: string;
  title: string;
  text: string;
  fields: Record<string, unknown>;
}

/** The field holding the text: PG19's `text` by default; tasks with other schemas name theirs. */
export interface ReadOptions {
  textField?: string;
  /** For a .zip archive: the JSONL file inside it to read (LongBench's data.zip holds one per dataset). */
  member?: string;
}

const ID_FIELDS = ["book_id", "id", "_id"];
const TITLE_FIELDS = ["short_book_title", "title", "book_title"];

/** All documents of a file or folder, in file order; one-line UsageErrors for anything unreadable. */
export async function readDocuments(path: string, options: ReadOptions = {}): Promise<DocumentRecord[]> {
  if (!existsSync(path)) throw new UsageError(`--data ${path}: no such file or folder`);
  const textField = options.textField ?? "text";
  const documents: DocumentRecord[] = [];
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path).filter((name) => name.endsWith(".txt")).sort();
    if (files.length === 0) throw new UsageError(`--data ${path}: the folder has no .txt files`);
    for (const name of files) {
      const id = basename(name, ".txt");
      documents.push(checked({ id, title: id, text: readFileSync(join(path, name), "utf8"), fields: {} }, `${path}/${name}`));
    }
    return documents;
  }
  const member = options.member;
  if (path.endsWith(".zip") !== (member !== undefined))
    throw new UsageError(member === undefined ? `--data ${path}: a .zip archive needs the name of a file inside it` : `--data ${path}: not a .zip archive, cannot read ${member} from it`);
  const source = member === undefined ? path : `${path}!${member}`;
  const where = (index: number) => `${source}, ${isParquet(path) ? "row" : "line"} ${index + 1}`;
  const records = isParquet(path) ? parquetRecords(path) : jsonLines(source, member === undefined ? decompressed(path) : zipMember(path, member));
  let index = 0;
  for await (const record of records) {
    documents.push(checked(toDocument(record, textField, index, where(index)), where(index)));
    index++;
  }
  if (documents.length === 0) throw new UsageError(`--data ${source}: no records`);
  return documents;
}

function isParquet(path: string): boolean {
  return extname(path) === ".parquet";
}

function toDocument(record: unknown, textField: string, index: number, where: string): DocumentRecord {
  if (typeof record !== "object" || record === null || Array.isArray(record)) throw new UsageError(`${where}: not a JSON object`);
  const fields = record as Record<string, unknown>;
  const text = fields[textField];
  if (typeof text !== "string") throw new UsageError(`${where}: no string field "${textField}" (fields: ${Object.keys(fields).join(", ") || "none"})`);
  // The hub's pg19-test has no book_id column: its Gutenberg URL ends with the id.
  const urlId = typeof fields.url === "string" ? /(\d+)\/?$/.exec(fields.url)?.[1] : undefined;
  const id = [...ID_FIELDS.map((field) => fields[field]), urlId].find((value) => typeof value === "string" || typeof value === "number");
  const title = TITLE_FIELDS.map((field) => fields[field]).find((value) => typeof value === "string");
  return { id: String(id ?? index + 1), title: typeof title === "string" ? title : String(id ?? index + 1), text, fields };
}

function checked(document: DocumentRecord, where: string): DocumentRecord {
  if (document.text.trim() === "") throw new UsageError(`${where}: document ${document.id} is empty`);
  return document;
}

/** Lines of a JSONL stream, parsed one by one; `path` names it in messages. */
async function* jsonLines(path: string, input: Readable): AsyncGenerator<unknown> {
  let lineNumber = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNumber++;
      if (line.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new UsageError(`${path}, line ${lineNumber}: not JSON (expected one JSON object per line)`);
      }
      yield value;
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${path}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
}

/** One file of a zip archive, decompressed alone (the archive is read whole, its other members are skipped). */
function zipMember(path: string, member: string): Readable {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(readFileSync(path), { filter: (file) => file.name === member });
  } catch (error) {
    throw new UsageError(`cannot read zip ${path}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  const bytes = files[member];
  if (bytes === undefined) throw new UsageError(`${path} has no file ${member}`);
  return Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
}

/** What a file's first bytes say it is (for messages about a file whose name says otherwise). */
export function sniffFormat(head: Uint8Array): string {
  const starts = (...bytes: number[]) => bytes.every((byte, index) => head[index] === byte);
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return "xz";
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return "zstd";
  if (starts(0x1f, 0x8b)) return "gzip";
  if (starts(0x42, 0x5a, 0x68)) return "bzip2";
  if (starts(0x50, 0x4b, 0x03, 0x04)) return "a zip archive";
  if (starts(0x50, 0x41, 0x52, 0x31)) return "parquet";
  const text = Buffer.from(head).toString("utf8").trimStart().toLowerCase();
  if (text.startsWith("<!doctype html") || text.startsWith("<html")) return "an HTML page";
  if (text.startsWith("{") || text.startsWith("[")) return "plain JSON";
  return head.length === 0 ? "empty" : "unknown";
}

/** What a file's name says its bytes must be (sniffFormat's names); undefined for names that promise nothing checkable. */
export function formatOfName(name: string): string | undefined {
  const formats: [string, string][] = [[".parquet", "parquet"], [".zip", "a zip archive"], [".xz", "xz"], [".zst", "zstd"], [".jsonl", "plain JSON"], [".json", "plain JSON"]];
  return formats.find(([extension]) => name.endsWith(extension))?.[1];
}

/** Refuses a file whose name promises a compression its bytes do not have, naming what they look like. */
function assertCompression(path: string, expected: "xz" | "zstd"): void {
  const head = Buffer.alloc(16);
  const fd = openSync(path, "r");
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const found = sniffFormat(head.subarray(0, read));
  if (found !== expected) throw new UsageError(`--data ${path}: the name says ${expected} but the file is ${found === "unknown" ? `not ${expected} data` : found}; rename or recompress it`);
}

/** The file's bytes, through an xz or zstd decoder when its name says so. */
function decompressed(path: string): Readable {
  const compression = formatOfName(path);
  if (compression === "xz" || compression === "zstd") assertCompression(path, compression);
  const raw = createReadStream(path);
  if (path.endsWith(".xz")) return Readable.fromWeb(new xz.XzReadableStream(Readable.toWeb(raw) as ReadableStream<Uint8Array>) as never);
  if (!path.endsWith(".zst")) return raw;
  const out = new Readable({ read() {} });
  const decoder = new Decompress((chunk, final) => {
    out.push(chunk);
    if (final) out.push(null);
  });
  raw.on("data", (chunk) => {
    try {
      decoder.push(chunk as Uint8Array);
    } catch (error) {
      raw.destroy();
      out.destroy(error as Error);
    }
  });
  raw.on("end", () => {
    try {
      decoder.push(new Uint8Array(0), true);
    } catch (error) {
      out.destroy(error as Error);
    }
  });
  raw.on("error", (error) => out.destroy(error));
  return out;
}

async function* parquetRecords(path: string): AsyncGenerator<unknown> {
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors });
  } catch (error) {
    throw new UsageError(`cannot read parquet ${path}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
  }
  yield* rows;
}
