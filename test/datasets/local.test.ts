import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { strToU8, zipSync } from "fflate";
import { parquetWriteBuffer } from "hyparquet-writer";

import { readDocuments } from "../../src/datasets/local.js";
import { UsageError } from "../../src/errors.js";
import { fixture, needs } from "../fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "cascade-eval-local-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const BOOKS = [
  { book_id: "10146", short_book_title: "First book", publication_date: 1908, url: "u1", text: "It was a dark night.\r\nThe end." },
  { book_id: "10321", short_book_title: "Second book", publication_date: 1910, url: "u2", text: "Ünïcödé text, and “quotes”." },
];
const jsonl = BOOKS.map((book) => JSON.stringify(book)).join("\n") + "\n";

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const expected = BOOKS.map((book) => ({ id: book.book_id, title: book.short_book_title, text: book.text }));
const essentials = (documents: Awaited<ReturnType<typeof readDocuments>>) => documents.map(({ id, title, text }) => ({ id, title, text }));

test("JSONL, .jsonl.xz and .jsonl.zst in the PG19 schema give the same documents", async () => {
  const plain = file("books.jsonl", jsonl);
  execFileSync("xz", ["-k", "-f", plain]);
  execFileSync("zstd", ["-q", "-f", plain, "-o", `${plain}.zst`]);
  for (const path of [plain, `${plain}.xz`, `${plain}.zst`]) assert.deepEqual(essentials(await readDocuments(path)), expected, path);
  const [first] = await readDocuments(plain);
  assert.equal(first!.fields.publication_date, 1908);
});

test("the shared PG19 test books read through the xz decoder", { skip: needs("data/pg19/pg19-test-approx.jsonl.xz") }, async () => {
  const documents = await readDocuments(fixture("data/pg19/pg19-test-approx.jsonl.xz"));
  assert.deepEqual(documents.map((d) => d.id), ["10146", "10321", "10356", "10762"]);
  assert.equal(documents[0]!.text.length, 253860);
});

test("parquet (snappy, as the hub serves it) gives the same documents", async () => {
  const columns = ["book_id", "short_book_title", "url", "text"] as const;
  const buffer = parquetWriteBuffer({ columnData: columns.map((name) => ({ name, data: BOOKS.map((book) => book[name]), type: "STRING" as const })) });
  assert.deepEqual(essentials(await readDocuments(file("books.parquet", new Uint8Array(buffer)))), expected);
});

test("without an id field, a Gutenberg URL gives the book id (the hub's pg19-test has no book_id column)", async () => {
  const record = { short_book_title: "T", url: "http://www.gutenberg.org/ebooks/10146", text: "x y" };
  const [document] = await readDocuments(file("no-id.jsonl", `${JSON.stringify(record)}\n`));
  assert.equal(document!.id, "10146");
});

test("a folder of .txt files is one document per file, in name order", async () => {
  const folder = join(dir, "txt");
  mkdirSync(folder);
  writeFileSync(join(folder, "b.txt"), "second");
  writeFileSync(join(folder, "a.txt"), "first");
  writeFileSync(join(folder, "notes.md"), "ignored");
  assert.deepEqual(essentials(await readDocuments(folder)), [
    { id: "a", title: "a", text: "first" },
    { id: "b", title: "b", text: "second" },
  ]);
});

test("bad inputs are one-line UsageErrors that say what is wrong", async () => {
  const cases: [string, RegExp][] = [
    [join(dir, "missing.jsonl"), /no such file or folder/],
    [file("schema.jsonl", `{"book_id": "1", "content": "x"}\n`), /line 1: no string field "text" \(fields: book_id, content\)/],
    [file("empty-book.jsonl", `{"book_id": "7", "text": "  \\n "}\n`), /line 1: document 7 is empty/],
    [file("not-json.jsonl", `{"text": "ok"}\nnot json\n`), /line 2: not JSON/],
    [file("cut.jsonl.xz", readFileSync(join(dir, "books.jsonl.xz")).subarray(0, 40)), /cannot read .*cut\.jsonl\.xz/],
    [file("cut.jsonl.zst", readFileSync(join(dir, "books.jsonl.zst")).subarray(0, 20)), /cannot read .*cut\.jsonl\.zst/],
    [file("garbage.parquet", "PAR1 not really"), /cannot read parquet/],
    [file("nothing.jsonl", "\n\n"), /no records/],
  ];
  for (const [path, message] of cases) {
    await assert.rejects(readDocuments(path), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${path}: ${String(error)}`);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  }
});

test("a JSONL inside a zip archive (LongBench's data.zip): one member read, in the task's schema", async () => {
  const longbench = { input: "Q?", context: "A long context.", answers: ["A"], length: 3, dataset: "multi_news", language: "en", all_classes: null, _id: "x1" };
  const archive = file(
    "data.zip",
    zipSync({ "data/multi_news.jsonl": strToU8(`${JSON.stringify(longbench)}\n`), "data/trec.jsonl": strToU8("not read\n") }),
  );
  const [document, ...rest] = await readDocuments(archive, { member: "data/multi_news.jsonl", textField: "context" });
  assert.equal(rest.length, 0);
  assert.equal(document!.text, "A long context.");
  assert.equal(document!.id, "x1");
  assert.deepEqual(document!.fields.answers, ["A"]);

  const cases: [Promise<unknown>, RegExp][] = [
    [readDocuments(archive, { member: "data/missing.jsonl" }), /data\.zip has no file data\/missing\.jsonl/],
    [readDocuments(archive), /a \.zip archive needs the name of a file inside it/],
    [readDocuments(file("fake.zip", "PK not a zip"), { member: "a.jsonl" }), /cannot read zip .*fake\.zip/],
    [readDocuments(file("plain.jsonl", jsonl), { member: "a.jsonl" }), /not a \.zip archive/],
  ];
  for (const [promise, message] of cases) await assert.rejects(promise, (error: unknown) => error instanceof UsageError && message.test(error.message) && !error.message.includes("\n"));
});

test("the shared LongBench multi_news file reads through the xz decoder in the task's schema", { skip: needs("data/longbench/multi_news.jsonl.xz") }, async () => {
  const shared = await readDocuments(fixture("data/longbench/multi_news.jsonl.xz"), { textField: "context" });
  assert.equal(shared.length, 200);
});

test("a file whose name promises xz or zstd but whose bytes are something else is refused with what it is", async () => {
  const plain = file("mislabeled.jsonl.xz", jsonl);
  await assert.rejects(readDocuments(plain), (error: unknown) => error instanceof UsageError && /the name says xz but the file is plain JSON; rename or recompress it/.test(error.message));
  execFileSync("xz", ["-k", "-f", file("real.jsonl", jsonl)]);
  const xzAsZstd = file("xz-named.jsonl.zst", readFileSync(join(dir, "real.jsonl.xz")));
  await assert.rejects(readDocuments(xzAsZstd), /the name says zstd but the file is xz/);
  const html = file("page.jsonl.xz", "<!DOCTYPE html><html><body>Not found</body></html>");
  await assert.rejects(readDocuments(html), /the name says xz but the file is an HTML page/);
});
