/** The extension build's patch step, and `cascade-eval extensions status` against the manifest. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { applyPatch } from "../../src/build/extensions-build.js";
import { readExtensionsManifest } from "../../src/engine/extension-manifest.js";
import { UsageError } from "../../src/errors.js";
import { projectPath } from "../../src/util/paths.js";
import { assertSucceeded, cli, removeTemporaryFolders, tempFolder } from "./helpers.js";

after(removeTemporaryFolders);

test("a patch is applied once, recognised as applied after, and refused where it does not fit", () => {
  const work = tempFolder();
  const target = join(work, "tree");
  mkdirSync(join(target, "src"), { recursive: true });
  writeFileSync(join(target, "src", "cache.h"), "int a;\nint b;\n");
  const patch = join(work, "change.patch");
  writeFileSync(patch, "--- a/src/cache.h\n+++ b/src/cache.h\n@@ -1,2 +1,3 @@\n int a;\n+int evict;\n int b;\n");
  assert.equal(applyPatch(patch, target), "applied");
  assert.equal(readFileSync(join(target, "src", "cache.h"), "utf8"), "int a;\nint evict;\nint b;\n");
  assert.equal(applyPatch(patch, target), "already applied");
  writeFileSync(join(target, "src", "cache.h"), "int c;\n");
  assert.throws(() => applyPatch(patch, target), (error: unknown) => error instanceof UsageError && /does not apply to/.test(error.message));
});

test("a newer version of an applied patch replaces the earlier one; a tree changed otherwise is refused", () => {
  const work = tempFolder();
  const target = join(work, "tree");
  mkdirSync(join(target, "src"), { recursive: true });
  writeFileSync(join(target, "src", "cache.h"), "int a;\nint b;\n");
  mkdirSync(join(work, "ext"));
  const patch = join(work, "ext", "change.patch");
  writeFileSync(patch, "--- a/src/cache.h\n+++ b/src/cache.h\n@@ -1,2 +1,3 @@\n int a;\n+int evict;\n int b;\n");
  assert.equal(applyPatch(patch, target), "applied");
  writeFileSync(patch, "--- a/src/cache.h\n+++ b/src/cache.h\n@@ -1,2 +1,3 @@\n int a;\n+int evict_faster;\n int b;\n");
  assert.equal(applyPatch(patch, target), "upgraded");
  assert.equal(readFileSync(join(target, "src", "cache.h"), "utf8"), "int a;\nint evict_faster;\nint b;\n");
  assert.equal(applyPatch(patch, target), "already applied");
  // the kept copy is the version now applied: a change the patch does not know stays an error
  writeFileSync(join(target, "src", "cache.h"), "int a;\nint evict_faster;\nint mine;\nint b;\n");
  writeFileSync(patch, "--- a/src/cache.h\n+++ b/src/cache.h\n@@ -1,2 +1,3 @@\n int a;\n+int evict_v3;\n int b;\n");
  assert.throws(() => applyPatch(patch, target), (error: unknown) => error instanceof UsageError && /does not apply to/.test(error.message));
});

test("every extension of the manifest names patches that exist, for the pinned node-llama-cpp", () => {
  const manifest = readExtensionsManifest();
  assert.equal(manifest.nodeLlamaCpp, "3.22.1");
  assert.deepEqual(manifest.extensions.map((extension) => extension.name), ["batched-eviction", "attention-scores", "decode-timings", "host-fast-path", "eviction-in-decode"]);
  for (const extension of manifest.extensions)
    for (const patch of extension.patches) assert.match(readFileSync(projectPath("extensions", patch.file), "utf8"), /^(diff --git|--- a\/)/m);
});

test("extensions status names the loaded binaries and every extension of the manifest", async () => {
  const result = await cli(["extensions", "status", "--gpu", "cpu"]);
  assertSucceeded(result);
  assert.match(result.stdout, /^binaries: (local build|prebuilt) .*, cpu, llama\.cpp v0\.5\.0$/m);
  const lines = result.stdout.trim().split("\n").slice(1);
  // one line per extension, in the manifest's order, with its version
  assert.deepEqual(
    lines.map((line) => line.replace(/: (active|not in these binaries \(cascade-eval extensions build\))$/, "")),
    readExtensionsManifest().extensions.map((extension) => `${extension.name} v${extension.version}`),
  );
  assert.match(result.stdout, /^host-fast-path v2: (active|not in these binaries \(cascade-eval extensions build\))$/m);
  assert.match(result.stdout, /^eviction-in-decode v1: (active|not in these binaries \(cascade-eval extensions build\))$/m);
});
