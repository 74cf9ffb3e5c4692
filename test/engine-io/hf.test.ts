/**
 * `hf:` model URIs resolved against a local Hugging Face stand-in: HF_ENDPOINT points node-llama-cpp at a
 * server on 127.0.0.1 that serves fixture files the way huggingface.co does.
 *
 * How node-llama-cpp 3.22.1 resolves them (dist/utils/parseModelUri.js, modelDownloadEndpoints.js,
 * modelFileAccessTokens.js, resolveModelFile.js; transfers by ipull):
 * - The endpoint is MODEL_ENDPOINT, else HF_ENDPOINT, else https://huggingface.co/, read from process.env on each
 *   call (resolveHuggingFaceEndpoint), not at import: node-llama-cpp is imported by this file before any test
 *   sets HF_ENDPOINT, and the requests still reach the local server. A value without http(s):// is ignored.
 * - `hf:owner/repo/file.gguf` (a file path): no API call. `GET <endpoint>/owner/repo/resolve/main/file.gguf?download=true`
 *   without Range (download info), then the same with `Range: bytes=0-<size-1>`. Saved as
 *   `hf_owner_repo_file.gguf` (the repo name is left out when it ends in -GGUF and the file name starts with it).
 *   `#branch` replaces `main`. Once the file is there, resolving makes no request at all (works offline).
 * - `hf:owner/repo:Q4_K_M` (a tag): `GET <endpoint>/v2/owner/repo/manifests/Q4_K_M` with `User-Agent: llama-cpp`,
 *   whose JSON `ggufFile.rfilename` names the file, then the two GETs above for `resolve/main/<rfilename>`. Saved
 *   as `hf_owner_repo_repo.Q4_K_M.gguf`; found locally by that name afterwards, without a request.
 * - HF_TOKEN (else the file at HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token) is sent as
 *   `Authorization: Bearer <token>`, but only after an anonymous request was refused (401/403/404): every first
 *   request goes out without it. It is offered to any URL whose host name (port ignored) is the endpoint's.
 */

import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Engine } from "../../src/engine/engine.js";
import { resolveModelPath } from "../../src/engine/model.js";
import { UsageError } from "../../src/errors.js";
import { FixtureServer, closedPort, removeDir, resolveInChild, sha256, tempDir, withEnv, writeSmallModel } from "./helpers.js";

const TOKEN = "hf_test_token_123";

let dir: string;
let served: Buffer;
let server: FixtureServer;

before(async () => {
  dir = await tempDir();
  const fixture = join(dir, "fixture.gguf");
  await writeSmallModel(fixture);
  served = await readFile(fixture);
  server = await FixtureServer.start();
  server
    .file("/owner/repo/resolve/main/file.gguf", served)
    .json("/v2/owner/repo/manifests/Q4_K_M", { ggufFile: { rfilename: "sub/Repo-Q4_K_M.gguf" } })
    .file("/owner/repo/resolve/main/sub/Repo-Q4_K_M.gguf", served)
    .file("/owner/private/resolve/main/file.gguf", served, TOKEN);
});

after(async () => {
  await server?.close();
  await removeDir(dir);
});

/** The environment of a test: our endpoint and no token from the environment or from a token file. */
function hfEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    HF_ENDPOINT: server.origin,
    MODEL_ENDPOINT: undefined, // would take precedence over HF_ENDPOINT
    HF_TOKEN: undefined,
    HF_TOKEN_PATH: join(dir, "no-such-token-file"),
    ...extra,
  };
}

test("hf:owner/repo/file.gguf downloads from HF_ENDPOINT, then resolves without a request", () =>
  withEnv(hfEnv(), async () => {
    const modelsDir = join(dir, "models-a");
    server.requests.length = 0;
    const path = await resolveModelPath("hf:owner/repo/file.gguf", modelsDir);
    assert.equal(path, join(modelsDir, "hf_owner_repo_file.gguf"));
    assert.ok((await readFile(path)).equals(served), "the downloaded bytes are the served bytes");
    assert.deepEqual(server.summary(), [
      "HEAD / → 404", // cascade-eval's reachability check of the endpoint
      "GET /owner/repo/resolve/main/file.gguf?download=true → 200",
      `GET /owner/repo/resolve/main/file.gguf?download=true [bytes=0-${served.length - 1}] → 206`,
    ]);
    assert.ok(server.requests.every((r) => r.authorization === undefined), "no token, no Authorization header");

    server.requests.length = 0;
    assert.equal(await resolveModelPath("hf:owner/repo/file.gguf", modelsDir), path);
    assert.deepEqual(server.summary(), [], "an hf: file URI already downloaded is resolved locally");
  }));

test("Engine.open takes an hf: URI; modelInfo records it and hashes the served bytes", () =>
  withEnv(hfEnv(), async () => {
    const modelsDir = join(dir, "models-b");
    const engine = await Engine.open({ model: "hf:owner/repo/file.gguf", modelsDirectory: modelsDir, gpu: "cpu" });
    try {
      assert.equal(engine.modelInfo.source, "hf:owner/repo/file.gguf");
      assert.equal(engine.modelInfo.path, join(modelsDir, "hf_owner_repo_file.gguf"));
      assert.equal(engine.modelInfo.sha256, sha256(served));
    } finally {
      await engine.close();
    }
  }));

test("hf:owner/repo:Q4_K_M asks the manifest API for the file name, then downloads that file", () =>
  withEnv(hfEnv(), async () => {
    const modelsDir = join(dir, "models-c");
    server.requests.length = 0;
    const path = await resolveModelPath("hf:owner/repo:Q4_K_M", modelsDir);
    assert.equal(path, join(modelsDir, "hf_owner_repo_repo.Q4_K_M.gguf"));
    assert.ok((await readFile(path)).equals(served));
    assert.deepEqual(server.summary(), [
      "HEAD / → 404",
      "GET /v2/owner/repo/manifests/Q4_K_M → 200",
      "GET /owner/repo/resolve/main/sub/Repo-Q4_K_M.gguf?download=true → 200",
      `GET /owner/repo/resolve/main/sub/Repo-Q4_K_M.gguf?download=true [bytes=0-${served.length - 1}] → 206`,
    ]);
    assert.equal(server.requests.find((r) => r.url.includes("/manifests/"))?.userAgent, "llama-cpp", "the manifest API answers ggufFile only to llama-cpp");

    server.requests.length = 0;
    assert.equal(await resolveModelPath("hf:owner/repo:Q4_K_M", modelsDir), path);
    assert.deepEqual(server.summary(), [], "found locally by its expected name");
  }));

test("HF_TOKEN goes out as Authorization: Bearer once the anonymous request is refused", () =>
  withEnv(hfEnv({ HF_TOKEN: TOKEN }), async () => {
    const modelsDir = join(dir, "models-d");
    server.requests.length = 0;
    const path = await resolveModelPath("hf:owner/private/file.gguf", modelsDir);
    assert.equal(path, join(modelsDir, "hf_owner_private_file.gguf"));
    assert.ok((await readFile(path)).equals(served));
    const [reachability, anonymous, ...authorized] = server.requests;
    assert.equal(reachability?.method, "HEAD");
    assert.equal(anonymous?.authorization, undefined, "node-llama-cpp tries without the token first");
    assert.equal(anonymous?.status, 401);
    assert.ok(authorized.length >= 2, server.summary().join(", "));
    for (const request of authorized) assert.equal(request.authorization, `Bearer ${TOKEN}`, server.summary().join(", "));
    assert.ok(authorized.some((r) => r.range !== undefined && r.status === 206), "the ranged download carries it too");
  }));

test("without a token, a refused hf: file is a one-line UsageError that names the URI", () =>
  withEnv(hfEnv(), async () => {
    const modelsDir = join(dir, "models-e");
    server.requests.length = 0;
    await assert.rejects(resolveModelPath("hf:owner/private/file.gguf", modelsDir), (error: unknown) => {
      assert.ok(error instanceof UsageError, `a UsageError, not ${String(error)}`);
      assert.ok(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
      assert.ok(error.message.includes("hf:owner/private/file.gguf"), error.message);
      assert.match(error.message, /401/);
      return true;
    });
    assert.deepEqual(server.summary(), ["HEAD / → 404", "GET /owner/private/resolve/main/file.gguf?download=true → 401"]);
    assert.deepEqual(await readdir(modelsDir), []);
  }));

test("an hf: tag URI with HF_ENDPOINT on a closed port is a one-line UsageError at once", async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  await withEnv(hfEnv({ HF_ENDPOINT: endpoint }), async () => {
    const started = performance.now();
    await assert.rejects(resolveModelPath("hf:owner/repo:Q4_K_M", join(dir, "models-f")), (error: unknown) => {
      assert.ok(error instanceof UsageError, `a UsageError, not ${String(error)}`);
      assert.ok(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
      assert.ok(error.message.includes("hf:owner/repo:Q4_K_M"), error.message);
      return true;
    });
    // the manifest request is a single fetch, not retried
    assert.ok(performance.now() - started < 5000);
  });
});

test(
  "an hf: file URI with HF_ENDPOINT on a closed port fails soon with a UsageError",
  async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const result = await resolveInChild("hf:owner/repo/file.gguf", join(dir, "models-g"), hfEnv({ HF_ENDPOINT: endpoint }), 6);
    assert.notEqual(result.outcome, "pending", `still trying after ${result.seconds} s`);
    assert.equal(result.outcome, "threw");
    if (result.outcome !== "threw") return;
    assert.equal(result.name, "UsageError");
    assert.ok(result.message.includes("hf:owner/repo/file.gguf"), result.message);
  },
);
