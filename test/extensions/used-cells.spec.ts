// Runs after `cascade-eval extensions build` (npm run test:extensions): host-fast-path's bitmap of used KV cells,
// compiled against the patched llama.cpp header, must agree with the std::set it replaces (used-cells.cpp).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { projectPath } from "../../src/util/paths.js";

test("the used-cell bitmap agrees with std::set on size, first and last used cell through random inserts and erases", () => {
  const source = projectPath("node_modules", "node-llama-cpp", "llama", "llama.cpp");
  const work = mkdtempSync(join(tmpdir(), "used-cells-"));
  try {
    const binary = join(work, "used-cells");
    const includes = ["include", "src", join("ggml", "include")].map((folder) => `-I${join(source, folder)}`);
    const compiled = spawnSync("c++", ["-O2", "-std=c++17", ...includes, projectPath("test", "extensions", "used-cells.cpp"), "-o", binary], { encoding: "utf8" });
    assert.equal(compiled.status, 0, compiled.stderr);
    const ran = spawnSync(binary, { encoding: "utf8" });
    assert.equal(ran.status, 0, ran.stderr);
    assert.match(ran.stdout, /^400000 steps: the bitmap agreed/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
