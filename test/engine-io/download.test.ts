/**
 * Models given as http(s) URLs: resolveModelPath downloads them through node-llama-cpp's resolveModelFile, which
 * hands the transfer to ipull. Tested against a local HTTP server on 127.0.0.1; nothing of ours is mocked.
 *
 * What node-llama-cpp 3.22.1 (ipull 3.9.5) requests for `http://host/models/tiny.gguf`, as recorded below:
 * - first download: `GET /models/tiny.gguf` without Range, for the download info (Content-Length,
 *   Accept-Ranges, Content-Disposition; ipull's Node fetch strategy uses GET here, not HEAD, and never reads that
 *   body), then `GET /models/tiny.gguf` with `Range: bytes=0-<size-1>` for the bytes. No HEAD request.
 * - a URL whose file is already in the directory: one more `GET` without Range (node-llama-cpp creates a
 *   downloader before it sees the file is there, and the downloader fetches the download info), no Range request,
 *   and the file is left alone. cascade-eval therefore looks for that file itself first, and checks the server once with a short timeout
 *   before any download (see the tests on an unreachable server below).
 * - 4xx: fails at once (a 404 is requested twice: ipull ignores a 404 on the info request, then gets it again on
 *   the download). 5xx, 429 and network errors are retried by ipull up to 150 times, 0.2 s to 5 s apart: about
 *   12 minutes before resolveModelFile rejects.
 */

import assert from "node:assert/strict";
import { mkdir, readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { Engine } from "../../src/engine/engine.js";
import { resolveModelPath } from "../../src/engine/model.js";
import { UsageError } from "../../src/errors.js";
import { writeTinyLlama } from "../../src/gguf/tiny-model.js";
import { DEFAULT_MODEL, FixtureServer, SMALL, closedPort, removeDir, resolveInChild, sha256, tempDir } from "./helpers.js";

/** How long a child process may try to resolve a URL on an unreachable server before it counts as hanging. */
const DEADLINE_S = 6;

let dir: string;
let served: Buffer;
let server: FixtureServer;
let url: string;

before(async () => {
  dir = await tempDir();
  const fixture = join(dir, "served", "tiny.gguf");
  await mkdir(join(dir, "served"));
  await writeTinyLlama(fixture, DEFAULT_MODEL, SMALL);
  served = await readFile(fixture);
  server = await FixtureServer.start();
  server.file("/models/tiny.gguf", served);
  url = `${server.origin}/models/tiny.gguf`;
});

after(async () => {
  await server?.close();
  await removeDir(dir);
});

test("an http URL is downloaded into the given models directory, byte for byte", async () => {
  const modelsDir = join(dir, "models-a"); // does not exist yet: the download creates it
  server.requests.length = 0;
  const path = await resolveModelPath(url, modelsDir);
  assert.equal(path, join(modelsDir, "tiny.gguf"), "named after the URL's last path segment");
  assert.ok((await readFile(path)).equals(served), "the downloaded bytes are the served bytes");
  assert.deepEqual(await readdir(modelsDir), ["tiny.gguf"], "no temporary files left behind");
  assert.deepEqual(server.summary(), [
    "HEAD / → 404", // cascade-eval's reachability check: any answer will do
    "GET /models/tiny.gguf → 200",
    `GET /models/tiny.gguf [bytes=0-${served.length - 1}] → 206`,
  ]);
});

test("a URL whose file is already there is not downloaded again", async () => {
  const modelsDir = join(dir, "models-b");
  const path = await resolveModelPath(url, modelsDir);
  const first = await stat(path);
  server.requests.length = 0;

  assert.equal(await resolveModelPath(url, modelsDir), path);
  const second = await stat(path);
  assert.equal(second.ino, first.ino, "the file was not replaced");
  assert.equal(second.mtimeMs, first.mtimeMs, "the file was not rewritten");
  // Today: exactly one GET without Range (the download info); its body is not read. At most that is allowed.
  assert.ok(server.requests.length <= 1, `at most the info request: ${server.summary().join(", ")}`);
  assert.ok(
    server.requests.every((r) => r.range === undefined),
    `no ranged (download) request: ${server.summary().join(", ")}`,
  );
});

test("Engine.open takes a URL and a models directory; modelInfo hashes the served bytes", async () => {
  const modelsDir = join(dir, "models-c");
  const engine = await Engine.open({ model: url, modelsDirectory: modelsDir, gpu: "cpu" });
  try {
    const info = engine.modelInfo;
    assert.equal(info.source, url, "the source is recorded as the user gave it");
    assert.equal(info.path, join(modelsDir, "tiny.gguf"));
    assert.equal(info.sha256, sha256(served));
    assert.equal(info.sizeBytes, served.length);
    assert.equal(info.name, SMALL.name);
    assert.equal(info.trainContextSize, SMALL.contextLength);
    assert.equal(info.hasChatTemplate, false);
    assert.equal(engine.hardware.gpu, false);
  } finally {
    await engine.close();
  }
});

test("a URL the server answers 404 to is a one-line UsageError that names it", async () => {
  const missing = `${server.origin}/models/missing.gguf`;
  const modelsDir = join(dir, "models-d");
  await assert.rejects(resolveModelPath(missing, modelsDir), (error: unknown) => {
    assert.ok(error instanceof UsageError, `a UsageError, not ${String(error)}`);
    assert.ok(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
    assert.ok(error.message.includes(missing), `names the URL: ${error.message}`);
    assert.match(error.message, /404/);
    return true;
  });
  assert.deepEqual(await readdir(modelsDir), [], "nothing written");
});

describe("an unreachable server", { concurrency: 2 }, () => {
  test("a URL on a closed port fails soon with a one-line UsageError that names it", async () => {
    const unreachable = `http://127.0.0.1:${await closedPort()}/models/tiny.gguf`;
    const result = await resolveInChild(unreachable, join(dir, "models-e"), {}, DEADLINE_S);
    assert.notEqual(result.outcome, "pending", `still trying after ${result.seconds} s`);
    assert.equal(result.outcome, "threw");
    if (result.outcome !== "threw") return;
    assert.equal(result.name, "UsageError");
    assert.ok(!result.message.includes("\n"), `one line: ${JSON.stringify(result.message)}`);
    assert.ok(result.message.includes(unreachable), `names the URL: ${result.message}`);
  });

  test("a URL downloaded before resolves to its file while the server is gone", async () => {
    const gone = await FixtureServer.start();
    gone.file("/models/tiny.gguf", served);
    const goneUrl = `${gone.origin}/models/tiny.gguf`;
    const modelsDir = join(dir, "models-f");
    const path = await resolveModelPath(goneUrl, modelsDir);
    await gone.close();
    const result = await resolveInChild(goneUrl, modelsDir, {}, DEADLINE_S);
    assert.deepEqual(result.outcome === "resolved" ? { ...result, seconds: 0 } : result, {
      outcome: "resolved",
      path,
      seconds: 0,
    });
  });
});
