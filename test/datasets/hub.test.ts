/**
 * The dataset download layer against a local stand-in for the hub (HF_ENDPOINT points at it): the real
 * download code, real files in a temporary cache, nothing mocked.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";

import { UsageError } from "../../src/errors.js";
import { cachedDatasetFiles, datasetsDirectory, fetchDataset, isDatasetCached } from "../../src/datasets/hub.js";
import { DATASETS } from "../../src/datasets/registry.js";
import { HubServer, resolvePath, sha256 } from "./hub-server.js";

const ID = "pg19-test";
const { repo, revision, files } = DATASETS[ID];
const FILE = files[0];
const HUB_PATH = resolvePath(repo, revision, FILE);
/** A few hundred KB, so the body arrives in several chunks; framed as parquet is (PAR1 at both ends). */
const BYTES = Buffer.concat([Buffer.from("PAR1"), randomBytes(300_000), Buffer.from("PAR1")]);
const NOT_CACHED = `dataset ${ID} is not cached; run \`cascade-eval data fetch ${ID}\` with network access, or pass --data PATH`;

const ENV_KEYS = ["HF_ENDPOINT", "HF_TOKEN", "CASCADE_EVAL_DATASETS", "CASCADE_EVAL_STALL_SECONDS"] as const;
const savedEnv = new Map(ENV_KEYS.map((key) => [key, process.env[key]]));

let hub: HubServer;
let cache: string;

before(async () => {
  hub = await HubServer.start();
});

after(async () => {
  await hub.close();
  for (const [key, value] of savedEnv) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

beforeEach(async () => {
  hub.reset();
  for (const key of ENV_KEYS) delete process.env[key];
  process.env.HF_ENDPOINT = hub.endpoint;
  cache = await mkdtemp(join(tmpdir(), "cascade-eval-datasets-"));
});

afterEach(async () => {
  await rm(cache, { recursive: true, force: true });
});

const target = () => join(cache, repo, revision, FILE);
const manifest = () => JSON.parse(readFileSync(join(cache, repo, revision, ".cascade-eval.json"), "utf8")) as { files: Record<string, unknown> };

function writePart(bytes: Buffer): void {
  mkdirSync(dirname(target()), { recursive: true });
  writeFileSync(`${target()}.part`, bytes);
}

/** The UsageError `promise` rejects with, checked to be one line. */
async function usageError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail("expected a rejection"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof UsageError, `a UsageError, got ${String(error)}`);
  assert.doesNotMatch(error.message, /\n/, "one line");
  return error.message;
}

test("a full download: the served bytes, the manifest with size and sha256, progress up to the total", async () => {
  hub.file(HUB_PATH, { body: BYTES });
  const progress: [string, number, number | undefined][] = [];
  const paths = await fetchDataset(ID, { datasetsDir: cache, onProgress: (...call) => progress.push(call) });
  assert.deepEqual(paths, [target()]);
  assert.ok(readFileSync(target()).equals(BYTES), "the cached bytes are the served bytes");
  assert.equal(existsSync(`${target()}.part`), false, "no .part left behind");
  assert.deepEqual(manifest().files, { [FILE]: { size: BYTES.length, sha256: sha256(BYTES) } });
  assert.ok(progress.length >= 2, `progress reported as bytes arrive (${progress.length} calls)`);
  assert.deepEqual(progress.at(-1), [FILE, BYTES.length, BYTES.length]);
  assert.deepEqual(hub.requests.map((r) => [r.path, r.range, r.authorization]), [[HUB_PATH, undefined, undefined]]);

  hub.requests.length = 0;
  assert.deepEqual(await fetchDataset(ID, { datasetsDir: cache }), [target()]);
  assert.deepEqual(hub.requests, [], "a cached file is not downloaded again");
});

test("a partial download resumes with Range from the .part's size and ends byte-identical", async () => {
  hub.file(HUB_PATH, { body: BYTES, headers: { "x-linked-etag": `"${sha256(BYTES)}"` } });
  writePart(BYTES.subarray(0, 123_456));
  const progress: number[] = [];
  await fetchDataset(ID, { datasetsDir: cache, onProgress: (_file, received) => progress.push(received) });
  assert.deepEqual(hub.requests.map((r) => [r.range, r.status]), [["bytes=123456-", 206]]);
  assert.ok(readFileSync(target()).equals(BYTES));
  assert.equal(progress[0], 123_456, "progress counts the bytes already there");
});

test("a server that ignores Range (200) restarts the file instead of appending", async () => {
  hub.file(HUB_PATH, { body: BYTES, ignoreRange: true });
  writePart(Buffer.from("stale bytes that are not the file's start"));
  await fetchDataset(ID, { datasetsDir: cache });
  assert.deepEqual(hub.requests.map((r) => [r.range, r.status]), [["bytes=41-", 200]]);
  assert.ok(readFileSync(target()).equals(BYTES));
});

test("a .part as long as the file (416 to its Range) is downloaded again from the start", async () => {
  hub.file(HUB_PATH, { body: BYTES });
  writePart(BYTES);
  await fetchDataset(ID, { datasetsDir: cache });
  assert.deepEqual(hub.requests.map((r) => [r.range, r.status]), [
    [`bytes=${BYTES.length}-`, 416],
    [undefined, 200],
  ]);
  assert.ok(readFileSync(target()).equals(BYTES));
});

test("a 302 is followed to the CDN with Range kept; the hub's X-Linked headers verify the file", async () => {
  hub.redirect(HUB_PATH, "/cdn/blob?signature=abc", { "x-linked-etag": `"${sha256(BYTES)}"`, "x-linked-size": String(BYTES.length) });
  hub.file("/cdn/blob", { body: BYTES });
  writePart(BYTES.subarray(0, 1000));
  await fetchDataset(ID, { datasetsDir: cache });
  assert.deepEqual(hub.requests.map((r) => [r.path, r.range, r.status]), [
    [HUB_PATH, "bytes=1000-", 302],
    ["/cdn/blob", "bytes=1000-", 206],
  ]);
  assert.ok(readFileSync(target()).equals(BYTES));
});

test("bytes that do not match the hub's sha256 fail with both values and leave no file", async () => {
  const expected = sha256(Buffer.from("other bytes"));
  hub.redirect(HUB_PATH, "/cdn/blob", { "x-linked-etag": `"${expected}"` });
  hub.file("/cdn/blob", { body: BYTES });
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.ok(message.includes(FILE) && message.includes(expected) && message.includes(sha256(BYTES)), message);
  assert.equal(existsSync(target()), false, "nothing in place");
  assert.equal(existsSync(`${target()}.part`), false, "the corrupt .part is deleted");
  assert.equal(isDatasetCached(ID, { datasetsDir: cache }), false);
});

test("a file shorter than the hub's X-Linked-Size fails with both sizes", async () => {
  hub.redirect(HUB_PATH, "/cdn/blob", { "x-linked-size": String(BYTES.length + 1) });
  hub.file("/cdn/blob", { body: BYTES });
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.ok(message.includes(`expected ${BYTES.length + 1} bytes, got ${BYTES.length}`), message);
  assert.equal(existsSync(target()), false);
});

test("a 64-hex ETag from the hub is a sha256 too", async () => {
  hub.file(HUB_PATH, { body: BYTES, headers: { etag: `"${"0".repeat(64)}"` } });
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.match(message, new RegExp(`expected sha256 0{64}, got ${sha256(BYTES)}`));
});

test("HF_TOKEN goes to the hub as a Bearer token, not to a CDN on another origin", async () => {
  const cdn = await HubServer.start();
  try {
    process.env.HF_TOKEN = "hf_secret";
    hub.redirect(HUB_PATH, `${cdn.endpoint}/blob`);
    cdn.file("/blob", { body: BYTES });
    await fetchDataset(ID, { datasetsDir: cache });
    assert.equal(hub.requests[0]?.authorization, "Bearer hf_secret");
    assert.equal(cdn.requests[0]?.authorization, undefined);
    assert.ok(readFileSync(target()).equals(BYTES));
  } finally {
    await cdn.close();
  }
});

test("a gated file: with the token it downloads, without it a 401 says to set HF_TOKEN", async () => {
  hub.file(HUB_PATH, { body: BYTES, bearer: "hf_secret" });
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.match(message, /HTTP 401.*set HF_TOKEN/);
  process.env.HF_TOKEN = "hf_secret";
  await fetchDataset(ID, { datasetsDir: cache });
  assert.ok(readFileSync(target()).equals(BYTES));
});

test("an unreachable hub fails at once with one line naming the dataset, the URL and the reason", async () => {
  const port = await closedPort();
  process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
  const started = Date.now();
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.ok(message.startsWith(`cannot download dataset ${ID} from http://127.0.0.1:${port}${HUB_PATH}: `), message);
  assert.match(message, /ECONNREFUSED/);
});

test("cachedDatasetFiles: the exact offline message until fetched, then the paths, without the network", async () => {
  assert.equal(await usageError(Promise.resolve().then(() => cachedDatasetFiles(ID, { datasetsDir: cache }))), NOT_CACHED);
  hub.file(HUB_PATH, { body: BYTES });
  await fetchDataset(ID, { datasetsDir: cache });
  hub.requests.length = 0;
  assert.deepEqual(cachedDatasetFiles(ID, { datasetsDir: cache }), [target()]);
  assert.deepEqual(hub.requests, []);

  truncateSync(target(), 10); // a cached file whose size no longer matches the manifest is not trusted
  assert.equal(await usageError(Promise.resolve().then(() => cachedDatasetFiles(ID, { datasetsDir: cache }))), NOT_CACHED);
});

test("the cache folder: --datasets-dir, else CASCADE_EVAL_DATASETS, else datasets/ in the project", () => {
  process.env.CASCADE_EVAL_DATASETS = join(cache, "from-env");
  assert.equal(datasetsDirectory(join(cache, "from-flag")), join(cache, "from-flag"));
  assert.equal(datasetsDirectory(), join(cache, "from-env"));
  delete process.env.CASCADE_EVAL_DATASETS;
  assert.match(datasetsDirectory(), /\/datasets$/);
});

test("an unknown id fails with the known ids, for both entry points", async () => {
  const known = "unknown dataset 'pg-19' (known: pg19-test, booksum, longbench)";
  assert.equal(await usageError(fetchDataset("pg-19", { datasetsDir: cache })), known);
  assert.throws(() => cachedDatasetFiles("pg-19"), { name: "UsageError", message: known });
  assert.deepEqual(hub.requests, []);
});

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("a server that stops sending fails after the stall timeout, keeps the partial file, and a later fetch resumes", async () => {
  process.env.CASCADE_EVAL_STALL_SECONDS = "1";
  hub.file(HUB_PATH, { body: BYTES, stallAfter: 1000 });
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.match(message, /no bytes for 1 s after 1000 bytes \(the partial download is kept: fetch again to resume\)$/);
  assert.equal(readFileSync(`${target()}.part`).length, 1000);
  assert.ok(!isDatasetCached(ID, { datasetsDir: cache }));
  hub.file(HUB_PATH, { body: BYTES });
  await fetchDataset(ID, { datasetsDir: cache });
  assert.deepEqual(readFileSync(target()), BYTES);
  assert.equal(hub.requests.at(-1)!.range, "bytes=1000-");
});

test("an HTML page served as the dataset (200, no ETag) is not cached, and says what came back", async () => {
  hub.file(HUB_PATH, { body: Buffer.from("<!DOCTYPE html><html><body>Sign in</body></html>") });
  const message = await usageError(fetchDataset(ID, { datasetsDir: cache }));
  assert.match(message, /came back as an HTML page, not parquet from .*; nothing was cached \(the server did not serve the dataset file: check HF_ENDPOINT is http:\/\/127\.0\.0\.1:\d+\)$/);
  assert.ok(!existsSync(target()) && !existsSync(`${target()}.part`));
  assert.ok(!isDatasetCached(ID, { datasetsDir: cache }));
});

test("a parquet file cut short (no footer) is not cached", async () => {
  hub.file(HUB_PATH, { body: BYTES.subarray(0, 5000) });
  assert.match(await usageError(fetchDataset(ID, { datasetsDir: cache })), /came back as parquet without its footer \(cut short\)/);
});

test("404 and 5xx say what to check", async () => {
  assert.match(await usageError(fetchDataset(ID, { datasetsDir: cache })), /HTTP 404 Not Found; no such file there: check the dataset's repository and revision in .*, and HF_ENDPOINT is http/);
  hub.file(HUB_PATH, { body: BYTES, status: 503 });
  assert.match(await usageError(fetchDataset(ID, { datasetsDir: cache })), /HTTP 503 Service Unavailable; the server failed: try again later$/);
});

test("a resumed download that fails verification starts once more from scratch", async () => {
  writePart(Buffer.from("PAR1 a stale start that is not this file's"));
  hub.file(HUB_PATH, { body: BYTES, headers: { "x-linked-etag": `"${sha256(BYTES)}"` } });
  await fetchDataset(ID, { datasetsDir: cache });
  assert.deepEqual(readFileSync(target()), BYTES);
  assert.deepEqual(hub.requests.map((request) => request.range), [`bytes=${"PAR1 a stale start that is not this file's".length}-`, undefined]);
});

test("--force downloads a cached file again", async () => {
  hub.file(HUB_PATH, { body: BYTES });
  await fetchDataset(ID, { datasetsDir: cache });
  writeFileSync(target(), Buffer.concat([Buffer.from("PAR1"), Buffer.alloc(300_000), Buffer.from("PAR1")]));
  await fetchDataset(ID, { datasetsDir: cache, force: true });
  assert.deepEqual(readFileSync(target()), BYTES);
  assert.equal(hub.requests.length, 2);
});
