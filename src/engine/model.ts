import { createHash } from "node:crypto";
import { createReadStream, existsSync, openSync, readSync, closeSync, readFileSync, statSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { resolveModelFile, type Llama, type LlamaModel } from "node-llama-cpp";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../util/files.js";

/** What every result records about the model that produced it. */
export interface ModelInfo {
  /** As the user gave it (path or URI). */
  source: string;
  path: string;
  sha256: string;
  sizeBytes: number;
  name: string;
  architecture: string;
  trainContextSize: number;
  vocabularySize: number;
  hasChatTemplate: boolean;
}

const URI_PATTERN = /^(hf:|https?:\/\/)/i;

/** Resolves a path or a node-llama-cpp model URI (`hf:…`, URLs) to a local GGUF file, downloading if needed. */
export async function resolveModelPath(source: string, directory?: string): Promise<string> {
  if (!URI_PATTERN.test(source)) {
    if (!existsSync(source)) throw new UsageError(`model file not found: ${source}`);
    if (!statSync(source).isFile()) throw new UsageError(`model path is not a file: ${source}`);
    return realpathSync(source);
  }
  try {
    return await resolveModelFile(source, { directory, download: "auto", cli: process.stderr.isTTY === true });
  } catch (error) {
    throw new UsageError(`cannot get model ${source}: ${firstLine(error)}`);
  }
}

/** Checks the GGUF magic before llama.cpp sees the file, so a wrong file gets a clear message. */
export function assertGgufFile(path: string): void {
  const header = Buffer.alloc(4);
  const fd = openSync(path, "r");
  try {
    const read = readSync(fd, header, 0, 4, 0);
    if (read < 4 || header.toString("latin1") !== "GGUF") throw new UsageError(`not a GGUF model file: ${path}`);
  } finally {
    closeSync(fd);
  }
}

interface HashCacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

const hashCachePath = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "cascade-eval", "sha256.json");

/** sha256 of a model file; remembered by path, size and mtime because multi-GB files take seconds to hash. */
export async function modelSha256(path: string): Promise<string> {
  const { size, mtimeMs } = statSync(path);
  let cache: Record<string, HashCacheEntry> = {};
  try {
    cache = JSON.parse(readFileSync(hashCachePath, "utf8")) as Record<string, HashCacheEntry>;
  } catch {
    // no cache yet, or unreadable: recompute
  }
  const known = cache[path];
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest("hex");
  try {
    writeFileAtomic(hashCachePath, JSON.stringify({ ...cache, [path]: { size, mtimeMs, sha256 } }, null, 1));
  } catch {
    // a read-only home only costs a re-hash next time
  }
  return sha256;
}

export async function loadModel(llama: Llama, path: string): Promise<LlamaModel> {
  assertGgufFile(path);
  try {
    return await llama.loadModel({ modelPath: path });
  } catch (error) {
    throw new UsageError(`cannot load model ${path}: ${firstLine(error)}`);
  }
}

export function describeModel(source: string, path: string, sha256: string, model: LlamaModel): ModelInfo {
  const metadata = model.fileInfo.metadata;
  return {
    source,
    path,
    sha256,
    sizeBytes: statSync(path).size,
    name: metadata.general?.name ?? path.split("/").pop() ?? path,
    architecture: String(metadata.general?.architecture ?? "unknown"),
    trainContextSize: model.trainContextSize,
    vocabularySize: metadata.tokenizer?.ggml?.tokens?.length ?? 0,
    hasChatTemplate: typeof metadata.tokenizer?.chat_template === "string",
  };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}
