/**
 * The real user path through the CLI, offline: `data fetch` from a hub stand-in on 127.0.0.1 (HF_ENDPOINT), then
 * `pg19` and `booksum` reading the cached files (parquet and jsonl.zst) without --data.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";

import { readDocuments } from "../../src/datasets/local.js";
import { DATASETS } from "../../src/datasets/registry.js";
import { HubServer, resolvePath, sha256 } from "../datasets/hub-server.js";
import { assertSucceeded, cli, explain, onlyRunFolder, QUIET, removeTemporaryFolders, tempFolder } from "./helpers.js";
import { fixture, needs } from "../fixtures.js";

/** The hub stand-in serves files made from these books. */
const TEST_BOOKS = "data/pg19/pg19-test-approx.jsonl.xz";
const SKIP = needs(TEST_BOOKS);

let hub: HubServer;
let cache: string;
const savedEndpoint = process.env.HF_ENDPOINT;

before(async () => {
  if (SKIP) return;
  const documents = (await readDocuments(fixture(TEST_BOOKS))).slice(0, 2);
  // pg19-test as the hub serves it: parquet with these columns and no book_id.
  const books = documents.map((d) => ({ short_book_title: d.title, publication_date: "1900", url: `http://www.gutenberg.org/ebooks/${d.id}`, text: d.text.slice(0, 8_000) }));
  const columns = ["short_book_title", "publication_date", "url", "text"] as const;
  const parquet = Buffer.from(parquetWriteBuffer({ columnData: columns.map((name) => ({ name, data: books.map((book) => book[name]), type: "STRING" as const })) }));
  // booksum as the hub serves it: jsonl.zst with prompt, completion, text.
  const folder = tempFolder();
  const rows = documents.map((d) => ({ prompt: d.text.slice(30_000, 33_000), completion: `A summary of ${d.title}.` }));
  const jsonl = join(folder, "booksum.jsonl");
  writeFileSync(jsonl, rows.map((row) => JSON.stringify({ text: row.prompt + row.completion, ...row })).join("\n") + "\n");
  execFileSync("zstd", ["-q", "-f", jsonl, "-o", `${jsonl}.zst`]);
  const zst = readFileSync(`${jsonl}.zst`);

  hub = await HubServer.start();
  const pg19 = DATASETS["pg19-test"];
  const booksum = DATASETS.booksum;
  hub.file(resolvePath(pg19.repo, pg19.revision, pg19.files[0]), { body: parquet, headers: { "x-linked-size": String(parquet.length), "x-linked-etag": `"${sha256(parquet)}"` } });
  hub.file(resolvePath(booksum.repo, booksum.revision, booksum.files[0]), { body: zst, headers: { "x-linked-size": String(zst.length), "x-linked-etag": `"${sha256(zst)}"` } });
  process.env.HF_ENDPOINT = hub.endpoint;
  cache = tempFolder();
});

after(async () => {
  if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = savedEndpoint;
  if (!SKIP) await hub.close();
  removeTemporaryFolders();
});

test("data fetch downloads both datasets from HF_ENDPOINT into --datasets-dir, and data list says so", { skip: SKIP }, async () => {
  const fetched = await cli(["data", "fetch", "pg19-test", "booksum", "--datasets-dir", cache]);
  assertSucceeded(fetched);
  assert.match(fetched.stdout, /pg19-test\/main\/data\/test-00000-of-00001-29a571947c0b5ccc\.parquet$/m);
  assert.match(fetched.stdout, /fine-tune\/booksum\.jsonl\.zst$/m);
  const listed = await cli(["data", "list", "--datasets-dir", cache]);
  assertSucceeded(listed);
  assert.match(listed.stdout, /^pg19-test\s.*\syes$/m);
  assert.match(listed.stdout, /^booksum\s.*\syes$/m);
  assert.match(listed.stdout, /^longbench\s.*\sno$/m);
  const again = await cli(["data", "fetch", "booksum", "--datasets-dir", cache]);
  assertSucceeded(again);
  assert.match(again.stderr, /booksum: already cached/);
  assert.equal(hub.requests.filter((request) => request.path.endsWith("booksum.jsonl.zst")).length, 1, "no second download");
});

test("pg19 and booksum read the cached hub files when no --data is given", { skip: SKIP }, async () => {
  const results = tempFolder();
  const pg19 = await cli(["pg19", "--datasets-dir", cache, "--policy", "sink-window", "--sinks", "4", "--window", "512", "--stride", "256", "--results", results, ...QUIET]);
  assertSucceeded(pg19);
  assert.match(pg19.stdout, /^sink-window\s/m, explain(pg19));
  const records = readFileSync(join(onlyRunFolder(results), "samples.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { bookId: string });
  assert.deepEqual(records.map((record) => record.bookId), ["10146", "10321"], "book ids from the Gutenberg URLs");
  const summaries = tempFolder();
  const booksum = await cli(["booksum", "--datasets-dir", cache, "--split", "all", "--samples", "1", "--policy", "sink-window", "--results", summaries, ...QUIET]);
  assertSucceeded(booksum);
  assert.match(booksum.stdout, /ROUGE-1/, explain(booksum));
  assert.match(readFileSync(join(onlyRunFolder(summaries), "samples.jsonl"), "utf8"), /"reference":"A summary of /);
});
