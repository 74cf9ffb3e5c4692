/**
 * Hub datasets in a local cache: resumable, verified downloads (`fetchDataset`) and an offline lookup
 * (`cachedDatasetFiles`). Files live at `<cache>/<repo>/<revision>/<path>`; `.cascade-eval.json` beside them
 * records each finished file's size and sha256, so a later run trusts a cached file after one stat.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";
import { projectPath } from "../util/paths.js";
import { formatOfName, readDocuments, sniffFormat, type DocumentRecord, type ReadOptions } from "./local.js";
import { datasetSpec, isDatasetId, type DatasetSpec } from "./registry.js";

/** Called as bytes arrive; `receivedBytes` counts a resumed file's earlier bytes too. */
export type DownloadProgress = (file: string, receivedBytes: number, totalBytes: number | undefined) => void;

export interface CacheOptions {
  /** The `--datasets-dir` flag; unset: `$CASCADE_EVAL_DATASETS`, else `datasets/` in the project. */
  datasetsDir?: string;
}

export interface FetchOptions extends CacheOptions {
  onProgress?: DownloadProgress;
  /** Download every file again, cached or not (`data fetch --force`). */
  force?: boolean;
}

interface CachedFile {
  size: number;
  sha256: string;
}

/** Paths inside the repository → what was verified when they were downloaded. */
type Manifest = Record<string, CachedFile>;

const MANIFEST_NAME = ".cascade-eval.json";
const MAX_REDIRECTS = 10;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Seconds without a byte before a download is given up (the partial file is kept); CASCADE_EVAL_STALL_SECONDS overrides. */
const stallSeconds = () => Number(process.env.CASCADE_EVAL_STALL_SECONDS) || 60;


export function datasetsDirectory(flag?: string): string {
  return resolve(flag || process.env.CASCADE_EVAL_DATASETS || projectPath("datasets"));
}

/** Whether every file of the dataset is in the cache with the size its manifest recorded; no network. */
export function isDatasetCached(id: string, options: CacheOptions = {}): boolean {
  const spec = datasetSpec(id);
  const folder = revisionFolder(spec, options);
  const manifest = readManifest(folder);
  return spec.files.every((file) => isCached(folder, file, manifest));
}

/** The local paths of a cached dataset, in registry order; never touches the network. */
export function cachedDatasetFiles(id: string, options: CacheOptions = {}): string[] {
  if (!isDatasetCached(id, options))
    throw new UsageError(`dataset ${id} is not cached; run \`cascade-eval data fetch ${id}\` with network access, or pass --data PATH`);
  const spec = datasetSpec(id);
  return spec.files.map((file) => join(revisionFolder(spec, options), file));
}

/** Downloads the files of the dataset that are not cached yet and returns the local paths of all of them. */
export async function fetchDataset(id: string, options: FetchOptions = {}): Promise<string[]> {
  const spec = datasetSpec(id);
  const folder = revisionFolder(spec, options);
  const paths: string[] = [];
  for (const file of spec.files) {
    const target = join(folder, file);
    if (options.force === true) await rm(`${target}.part`, { force: true });
    if (options.force === true || !isCached(folder, file, readManifest(folder))) {
      const report = (received: number, total: number | undefined) => options.onProgress?.(file, received, total);
      const download = { id, file, url: resolveUrl(spec, file), target };
      let verified: CachedFile;
      try {
        verified = await downloadFile(download, report);
      } catch (error) {
        // A resumed .part that fails verification was deleted: one fresh download before giving up.
        if (!(error instanceof VerificationError) || !error.resumed) throw error;
        verified = await downloadFile(download, report);
      }
      writeFileAtomic(join(folder, MANIFEST_NAME), `${JSON.stringify({ files: { ...readManifest(folder), [file]: verified } }, null, 2)}\n`);
    }
    paths.push(target);
  }
  return paths;
}

function revisionFolder(spec: DatasetSpec, options: CacheOptions): string {
  return join(datasetsDirectory(options.datasetsDir), ...spec.repo.split("/"), spec.revision);
}

/** An unreadable manifest counts as empty: the files are downloaded again rather than trusted. */
function readManifest(folder: string): Manifest {
  try {
    const parsed = JSON.parse(readFileSync(join(folder, MANIFEST_NAME), "utf8")) as { files?: Manifest };
    return parsed.files ?? {};
  } catch {
    return {};
  }
}

function isCached(folder: string, file: string, manifest: Manifest): boolean {
  const recorded = manifest[file];
  const path = join(folder, file);
  return recorded !== undefined && existsSync(path) && statSync(path).size === recorded.size;
}

function resolveUrl(spec: DatasetSpec, file: string): string {
  const endpoint = (process.env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
  const encode = (path: string) => path.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/datasets/${spec.repo}/resolve/${encodeURIComponent(spec.revision)}/${encode(file)}`;
}

interface Download {
  id: string;
  /** The path inside the repository, as messages name it. */
  file: string;
  url: string;
  target: string;
}

/**
 * Streams the file into `<target>.part`, resuming an earlier `.part` with a Range request, checks its size and
 * (when the hub gives one) its sha256, then renames it into place. A failed check deletes the `.part`; a broken
 * connection keeps it for the next attempt.
 */
async function downloadFile(download: Download, report: (received: number, total: number | undefined) => void): Promise<CachedFile> {
  const { id, file, target } = download;
  const part = `${target}.part`;
  await mkdir(dirname(target), { recursive: true });
  const offset = existsSync(part) ? statSync(part).size : 0;
  const answer = await request(download, offset);
  const { response } = answer;
  if (response.status !== 200 && response.status !== 206) answer.stall.clear();
  if (response.status === 416 && offset > 0) {
    // The .part is not a prefix of this file (it changed, or the .part is already whole): start over.
    await rm(part, { force: true });
    return downloadFile(download, report);
  }
  if (response.status === 401 || response.status === 403) throw new UsageError(tokenAdvice(download, response.status));
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    failDownload(download, answer.url, `HTTP ${response.status} ${response.statusText}; ${statusAdvice(response.status, download.url)}`);
  }

  const resumed = response.status === 206;
  const responseTotal = resumed ? resumedTotal(download, answer.url, response, offset) : fullLength(response);
  const expectedSize = answer.linkedSize ?? responseTotal;
  let received = resumed ? offset : 0;
  report(received, expectedSize);
  const stall = answer.stall;
  const handle = await open(part, resumed ? "a" : "w").catch((error: unknown) => {
    stall.clear();
    throw error;
  });
  try {
    if (response.body !== null) {
      for await (const chunk of response.body) {
        stall.touch();
        await handle.write(chunk);
        received += chunk.length;
        report(received, expectedSize);
      }
    }
  } catch (error) {
    const reason = stall.stalled ? `no bytes for ${stallSeconds()} s after ${received} bytes` : networkReason(error);
    failDownload(download, answer.url, `${reason} (the partial download is kept: fetch again to resume)`);
  } finally {
    stall.clear();
    await handle.close();
  }

  const size = statSync(part).size;
  const sha256 = await sha256OfFile(part);
  const mismatch =
    expectedSize !== undefined && size !== expectedSize
      ? `expected ${expectedSize} bytes, got ${size}`
      : answer.sha256 !== undefined && sha256 !== answer.sha256
        ? `expected sha256 ${answer.sha256}, got ${sha256}`
        : undefined;
  if (mismatch !== undefined) {
    await rm(part, { force: true });
    throw new VerificationError(`dataset ${id}: ${file} failed verification (${mismatch}); the download was deleted, fetch again`, resumed);
  }
  const wrongFormat = await formatProblem(part, file);
  if (wrongFormat !== undefined) {
    await rm(part, { force: true });
    throw new UsageError(`dataset ${id}: ${file} came back as ${wrongFormat} from ${answer.url}; nothing was cached (${statusAdvice(200, download.url)})`);
  }
  await rename(part, target);
  return { size, sha256 };
}

/** A download whose bytes do not match what the hub announced; `resumed`: it had continued an earlier .part. */
class VerificationError extends UsageError {
  constructor(
    message: string,
    readonly resumed: boolean,
  ) {
    super(message);
  }
}

/** What is wrong with a downloaded file's bytes for its name (an HTML error page, a parquet without its footer). */
async function formatProblem(path: string, file: string): Promise<string | undefined> {
  const expected = formatOfName(file);
  if (expected === undefined) return undefined;
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(16, size));
    await handle.read(head, 0, head.length, 0);
    const found = sniffFormat(head);
    if (found !== expected) return `${found === "unknown" ? "bytes of no known format" : found}, not ${expected}`;
    if (expected === "parquet") {
      const tail = Buffer.alloc(4);
      await handle.read(tail, 0, 4, Math.max(0, size - 4));
      if (tail.toString("latin1") !== "PAR1") return "parquet without its footer (cut short)";
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

/** What to check for a status the download cannot use. */
function statusAdvice(status: number, url: string): string {
  const endpoint = process.env.HF_ENDPOINT ? `HF_ENDPOINT is ${process.env.HF_ENDPOINT}` : "HF_ENDPOINT is unset (https://huggingface.co)";
  if (status === 404) return `no such file there: check the dataset's repository and revision in ${url}, and ${endpoint}`;
  if (status >= 500) return "the server failed: try again later";
  if (status === 200) return `the server did not serve the dataset file: check ${endpoint}`;
  return `check ${endpoint}`;
}

/** Aborts a request once no byte has come for stallSeconds(); `touch` on every chunk. */
interface StallTimer {
  readonly signal: AbortSignal;
  readonly stalled: boolean;
  touch(): void;
  clear(): void;
}

function stallTimer(): StallTimer {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let stalled = false;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, stallSeconds() * 1000);
    timer.unref(); // a download that failed otherwise must not keep the process alive
  };
  touch();
  return {
    signal: controller.signal,
    get stalled() {
      return stalled;
    },
    touch,
    clear: () => clearTimeout(timer),
  };
}

/** The final response and what the hub said about the file on the way (its 302 to the CDN carries it). */
interface Answer {
  response: Response;
  /** Guards the response's body against a server that stops sending. */
  stall: StallTimer;
  /** Where the final response came from. */
  url: string;
  linkedSize?: number;
  sha256?: string;
}

/** GET with redirects followed by hand, so the hub's own headers are seen and Range survives every hop. */
async function request(download: Download, offset: number): Promise<Answer> {
  const hubOrigin = new URL(download.url).origin;
  const token = process.env.HF_TOKEN;
  let url = new URL(download.url);
  let linkedSize: number | undefined;
  let sha256: string | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const fromHub = url.origin === hubOrigin;
    // Identity: a transparently decompressed body would not match Content-Length or the sha256.
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    // The CDN's signed URLs authorise themselves; a Bearer there would leak the token and gets refused.
    if (token && fromHub) headers.authorization = `Bearer ${token}`;
    let response: Response;
    const stall = stallTimer();
    try {
      response = await fetch(url, { headers, redirect: "manual", signal: stall.signal });
    } catch (error) {
      stall.clear();
      failDownload(download, url.href, stall.stalled ? `no answer for ${stallSeconds()} s` : networkReason(error));
    }
    linkedSize ??= optionalNumber(response.headers.get("x-linked-size"));
    sha256 ??= sha256Tag(response.headers.get("x-linked-etag"));
    // Only the hub's ETag: a CDN's 64-hex ETag may be another hash (a Xet hash, say).
    if (fromHub) sha256 ??= sha256Tag(response.headers.get("etag"));
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      stall.clear();
      await response.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    stall.touch();
    return { response, stall, url: url.href, linkedSize, sha256 };
  }
  failDownload(download, download.url, `more than ${MAX_REDIRECTS} redirects`);
}

function failDownload(download: Download, url: string, reason: string): never {
  throw new UsageError(`cannot download dataset ${download.id} from ${url}: ${reason}`);
}

function tokenAdvice(download: Download, status: number): string {
  const hint = process.env.HF_TOKEN
    ? "the hub refused HF_TOKEN: check the token, and accept the dataset's terms on its page if it is gated"
    : "the dataset needs a Hugging Face token: set HF_TOKEN (https://huggingface.co/settings/tokens)";
  return `cannot download dataset ${download.id} from ${download.url}: HTTP ${status}; ${hint}`;
}

/** Total size from a 206's `Content-Range: bytes <start>-<end>/<total>`, whose start must be our offset. */
function resumedTotal(download: Download, url: string, response: Response, offset: number): number | undefined {
  const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
  if (range === null || Number(range[1]) !== offset)
    failDownload(download, url, `asked for bytes from ${offset}, got Content-Range '${response.headers.get("content-range")}'`);
  return optionalNumber(range[2]!);
}

/** Content-Length of a full response, unless the body is encoded (then it counts other bytes). */
function fullLength(response: Response): number | undefined {
  const encoding = response.headers.get("content-encoding");
  return encoding === null || encoding === "identity" ? optionalNumber(response.headers.get("content-length")) : undefined;
}

function optionalNumber(text: string | null): number | undefined {
  return text !== null && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** A header value that is a sha256 in hex, quotes stripped. */
function sha256Tag(value: string | null): string | undefined {
  const unquoted = value?.trim().replace(/^"|"$/g, "").toLowerCase();
  return unquoted !== undefined && SHA256_HEX.test(unquoted) ? unquoted : undefined;
}

/** Node's fetch hides the reason (ECONNREFUSED, ENOTFOUND, …) in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.message || cause?.code || (error instanceof Error ? error.message : String(error));
  return reason.split("\n")[0]!;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The documents of a task's source: a hub dataset id (read from the cache, never the network) or a local path
 * (the absolute path a run stores in its options).
 */
export async function readSource(source: string, options: CacheOptions & ReadOptions = {}): Promise<DocumentRecord[]> {
  const files = isDatasetId(source) ? cachedDatasetFiles(source, options) : [source];
  const documents: DocumentRecord[] = [];
  for (const file of files) documents.push(...(await readDocuments(file, options)));
  return documents;
}
