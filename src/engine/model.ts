import { createHash } from "node:crypto";
import { createReadStream, existsSync, openSync, readSync, closeSync, readFileSync, statSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { readGgufFileInfo, resolveModelFile, type Llama, type LlamaModel } from "node-llama-cpp";
import { UsageError } from "../errors.js";
import { readGgufHeader } from "../gguf/reader.js";
import { takeLlamaError } from "./llama.js";
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
const cacheRoot = () => process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");

/** Where downloaded models go unless the caller says: `CASCADE_EVAL_MODELS`, else the user's cache folder. */
export function defaultModelsDirectory(): string {
  return process.env.CASCADE_EVAL_MODELS ?? join(cacheRoot(), "cascade-eval", "models");
}

/** How long the reachability check before a download waits for the server. */
const REACH_TIMEOUT_MS = 20_000;

/**
 * Resolves a path or a node-llama-cpp model URI (`hf:…`, URLs) to a local GGUF file, downloading if needed.
 * A model downloaded before is used without the network. Before a download the server is checked once with a
 * short timeout: node-llama-cpp's downloader retries network errors for about 12 minutes before it gives up.
 */
export async function resolveModelPath(source: string, directory = defaultModelsDirectory()): Promise<string> {
  if (!URI_PATTERN.test(source)) {
    if (!existsSync(source)) throw new UsageError(`model file not found: ${source}`);
    if (!statSync(source).isFile()) throw new UsageError(`model path is not a file: ${source}`);
    return realpathSync(source);
  }
  const isUrl = /^https?:\/\//i.test(source);
  // A plain URL is saved under its last path segment; naming it ourselves lets us find it again offline.
  const fileName = isUrl ? decodeURIComponent(new URL(source).pathname.split("/").pop() || "model.gguf") : undefined;
  if (fileName && existsSync(join(directory, fileName))) return join(directory, fileName);
  if (!isUrl) {
    try {
      return await resolveModelFile(source, { directory, download: false });
    } catch {
      // not downloaded yet
    }
  }
  await assertReachable(isUrl ? new URL(source).origin : huggingFaceEndpoint(), source);
  try {
    return await resolveModelFile(source, { directory, fileName, download: "auto", cli: process.stderr.isTTY === true });
  } catch (error) {
    throw new UsageError(`cannot get model ${source}: ${firstLine(error)}`);
  }
}

/** The hub node-llama-cpp downloads `hf:` URIs from (it reads the same variables). */
function huggingFaceEndpoint(): string {
  for (const value of [process.env.MODEL_ENDPOINT, process.env.HF_ENDPOINT])
    if (value && /^https?:\/\//i.test(value)) return new URL(value).origin;
  return "https://huggingface.co";
}

/** Any HTTP answer will do (even 404): only a network failure means the download cannot work. */
async function assertReachable(origin: string, source: string): Promise<void> {
  try {
    await fetch(origin, { method: "HEAD", signal: AbortSignal.timeout(REACH_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? firstLine(error);
    throw new UsageError(`cannot get model ${source}: ${origin} is unreachable (${cause}); check the network, or pass a local file with --model`);
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

const hashCachePath = () => join(cacheRoot(), "cascade-eval", "sha256.json");

function readHashCache(): Record<string, HashCacheEntry> {
  try {
    return JSON.parse(readFileSync(hashCachePath(), "utf8")) as Record<string, HashCacheEntry>;
  } catch {
    return {}; // no cache yet, or unreadable: recompute
  }
}

/** Remembers the sha256 of a model file by path, size and mtime (a writer that hashed what it wrote). */
export function rememberModelSha256(path: string, sha256: string): void {
  const { size, mtimeMs } = statSync(path);
  try {
    writeFileAtomic(hashCachePath(), JSON.stringify({ ...readHashCache(), [path]: { size, mtimeMs, sha256 } }, null, 1));
  } catch {
    // a read-only home only costs a re-hash next time
  }
}

/** sha256 of a model file; remembered by path, size and mtime because multi-GB files take seconds to hash. */
export async function modelSha256(path: string): Promise<string> {
  const { size, mtimeMs } = statSync(path);
  const known = readHashCache()[path];
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest("hex");
  rememberModelSha256(path, sha256);
  return sha256;
}

/**
 * Why a GGUF file that llama.cpp refused is short, when it is: its header runs past the end of the file, or its
 * tensors end beyond it (an interrupted download or copy). Undefined when the file is whole as far as we can tell.
 */
export async function truncation(path: string): Promise<string | undefined> {
  const { size } = statSync(path);
  let end: number;
  try {
    const header = await readGgufHeader(path);
    end = header.tensors.reduce((last, tensor) => Math.max(last, header.dataOffset + tensor.offset + (tensor.size ?? 0)), header.dataOffset);
  } catch {
    return `its header is cut short at ${size.toLocaleString("en-US")} bytes`;
  }
  return size < end ? `it is ${size.toLocaleString("en-US")} bytes but its tensors end at byte ${end.toLocaleString("en-US")}` : undefined;
}

const TRUNCATED_HINT = "the file is truncated (an interrupted download or copy?): fetch or copy it again";

export async function loadModel(llama: Llama, path: string): Promise<LlamaModel> {
  assertGgufFile(path);
  takeLlamaError();
  try {
    return await llama.loadModel({ modelPath: path });
  } catch (error) {
    const cause = takeLlamaError();
    const short = await truncation(path);
    if (short !== undefined) throw new UsageError(`cannot load model ${path}: ${short}; ${TRUNCATED_HINT}`);
    throw new UsageError(`cannot load model ${path}: ${firstLine(error)}${cause ? ` (llama.cpp: ${cause})` : ""}`);
  }
}

/** The GGUF header's metadata, read without llama.cpp (before it starts), with loadModel's errors. */
export async function readModelMetadata(path: string): Promise<object> {
  assertGgufFile(path);
  try {
    return (await readGgufFileInfo(path, { readTensorInfo: false })).metadata;
  } catch (error) {
    const short = await truncation(path);
    throw new UsageError(`cannot load model ${path}: ${short === undefined ? firstLine(error) : `${short}; ${TRUNCATED_HINT}`}`);
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
