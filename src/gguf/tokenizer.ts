/**
 * Tokenizer metadata for generated models: every `tokenizer.*` KV of an existing GGUF file, with its exact type,
 * and the llama.cpp vocabulary files that node-llama-cpp ships inside its llama.cpp source bundle.
 */

import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { nodeLlamaCppRoot } from "../util/paths.js";
import { readGgufHeader } from "./reader.js";
import type { GgufKv } from "./types.js";

const execFileAsync = promisify(execFile);

/** Runs a command with its stdout going to the file `out`. */
async function runToFile(cmd: string, args: string[], out: string): Promise<void> {
  const fh = await open(out, "w");
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ["ignore", fh.fd, "pipe"] });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) =>
        code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${stderr.trim()}`)),
      );
    });
  } finally {
    await fh.close();
  }
}

/** The `tokenizer.*` KVs of a GGUF file, in file order and with their GGUF types. */
export async function readTokenizerMetadata(path: string): Promise<GgufKv[]> {
  const info = await readGgufHeader(path);
  const kvs = info.metadata.filter((m) => m.key.startsWith("tokenizer."));
  if (!kvs.some((m) => m.key === "tokenizer.ggml.model")) throw new Error(`${path} has no tokenizer (tokenizer.ggml.model)`);
  return kvs;
}

/** The git bundle of llama.cpp's source that node-llama-cpp ships (`llama/gitRelease.bundle`). */
export function llamaCppBundlePath(): string {
  return join(nodeLlamaCppRoot(), "llama", "gitRelease.bundle");
}

/** The path, inside llama.cpp's source, of the Llama SentencePiece (32k) vocabulary. */
export const LLAMA_SPM_VOCAB = "models/ggml-vocab-llama-spm.gguf";

/**
 * Extracts one file of llama.cpp's source from node-llama-cpp's git bundle (the bundle's HEAD) into `dest`.
 * Needs `git`. The bundle is cloned bare into a temporary folder, which is removed afterwards.
 */
export async function extractFromLlamaCppBundle(
  repoPath: string,
  dest: string,
  bundle: string = llamaCppBundlePath(),
): Promise<{ commit: string }> {
  if (!existsSync(bundle)) throw new Error(`llama.cpp source bundle not found: ${bundle}`);
  const tmp = await mkdtemp(join(tmpdir(), "cascade-eval-llama-src-"));
  try {
    const repo = join(tmp, "repo.git");
    await execFileAsync("git", ["clone", "--quiet", "--bare", bundle, repo]);
    const { stdout: commit } = await execFileAsync("git", ["--git-dir", repo, "rev-parse", "HEAD"]);
    const part = `${dest}.${process.pid}.part`;
    try {
      // cat-file writes binary: send it straight to a file rather than through a JS string
      await runToFile("git", ["--git-dir", repo, "cat-file", "blob", `HEAD:${repoPath}`], part);
      await rename(part, dest);
    } finally {
      await rm(part, { force: true });
    }
    return { commit: commit.trim() };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
