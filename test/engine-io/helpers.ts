/** Shared fixtures of the engine I/O tests (not a test file itself): a local HTTP server, small models, env. */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { DEFAULT_MODEL } from "../../src/config.js";
import { TINY_LLAMA_DEFAULT, buildTinyLlama, type TinyLlamaConfig } from "../../src/gguf/tiny-model.js";
import { readTokenizerMetadata } from "../../src/gguf/tokenizer.js";
import type { GgufKv } from "../../src/gguf/types.js";
import { writeGguf } from "../../src/gguf/writer.js";

/** A smaller variant of the default model (about 2.8 MB, most of it the 32k-token embedding and vocabulary). */
export const SMALL: TinyLlamaConfig = {
  ...TINY_LLAMA_DEFAULT,
  name: "engine-io test model",
  nLayer: 1,
  nEmbd: 32,
  nHead: 2,
  nHeadKv: 1,
  nFf: 64,
  contextLength: 512,
};

/** The embedded default model; its `tokenizer.*` KVs serve as the vocabulary of generated models. */
export { DEFAULT_MODEL };

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "cascade-eval-engine-io-"));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}

/** Writes a SMALL random model with the default model's tokenizer and `extra` metadata KVs appended. */
export async function writeSmallModel(path: string, extra: readonly GgufKv[] = []): Promise<void> {
  const tokenizer = await readTokenizerMetadata(DEFAULT_MODEL);
  const { metadata, tensors } = buildTinyLlama(SMALL, [...tokenizer, ...extra]);
  await writeGguf(path, metadata, tensors);
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** One request as the fixture server saw it. */
export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  range: string | undefined;
  authorization: string | undefined;
  userAgent: string | undefined;
  /** The status the server answered. */
  status: number;
}

type Route = { kind: "file"; body: Buffer; bearer?: string } | { kind: "json"; value: unknown };

/**
 * An HTTP server on 127.0.0.1 (random port) that serves fixture files with Range support (206 and
 * Content-Range, like a CDN) and JSON documents, answers 404 to anything else, and records every request.
 */
export class FixtureServer {
  readonly requests: SeenRequest[] = [];
  private readonly routes = new Map<string, Route>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FixtureServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const fixture = new FixtureServer(server, (server.address() as AddressInfo).port);
    server.on("request", (req, res) => fixture.handle(req, res));
    return fixture;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Serves `body` at `path` (query strings are ignored); with `bearer`, only to `Authorization: Bearer <bearer>`. */
  file(path: string, body: Buffer, bearer?: string): this {
    this.routes.set(path, bearer === undefined ? { kind: "file", body } : { kind: "file", body, bearer });
    return this;
  }

  json(path: string, value: unknown): this {
    this.routes.set(path, { kind: "json", value });
    return this;
  }

  /** `METHOD url [Range]` of each request, for readable assertion messages. */
  summary(): string[] {
    return this.requests.map((r) => `${r.method} ${r.url}${r.range === undefined ? "" : ` [${r.range}]`} → ${r.status}`);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    const seen: SeenRequest = {
      method: req.method ?? "?",
      url,
      range: req.headers.range,
      authorization: req.headers.authorization,
      userAgent: req.headers["user-agent"],
      status: 0,
    };
    this.requests.push(seen);
    const reply = (status: number, headers: Record<string, string | number>, body?: Uint8Array): void => {
      seen.status = status;
      res.writeHead(status, headers);
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const route = this.routes.get(new URL(url, "http://fixture").pathname);
    if (route === undefined) return reply(404, { "content-type": "text/plain" }, Buffer.from("not found"));
    if (route.kind === "json") {
      return reply(200, { "content-type": "application/json" }, Buffer.from(JSON.stringify(route.value)));
    }
    if (route.bearer !== undefined && req.headers.authorization !== `Bearer ${route.bearer}`) {
      return reply(401, { "content-type": "text/plain" }, Buffer.from("unauthorized"));
    }
    const { body } = route;
    const common = { "accept-ranges": "bytes", "content-type": "application/octet-stream" };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    if (req.headers.range === undefined) return reply(200, { ...common, "content-length": body.length }, body);
    if (range === null || (range[1] === "" && range[2] === "")) return reply(416, { "content-range": `bytes */${body.length}` });
    const start = range[1] === "" ? Math.max(0, body.length - Number(range[2])) : Number(range[1]);
    const end = range[1] === "" || range[2] === "" ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
    if (start > end || start >= body.length) return reply(416, { "content-range": `bytes */${body.length}` });
    return reply(
      206,
      { ...common, "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${body.length}` },
      body.subarray(start, end + 1),
    );
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `use` with the given environment variables set (undefined: unset), restoring them afterwards. */
export async function withEnv<T>(vars: Record<string, string | undefined>, use: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(vars)) {
    saved.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await use();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** What `resolve-child.js` printed, or that it was still running at the deadline (then it was killed). */
export type ChildResolve =
  | { outcome: "resolved"; path: string; seconds: number }
  | { outcome: "threw"; name: string; message: string; seconds: number }
  | { outcome: "pending"; seconds: number };

const CHILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "resolve-child.js");

/**
 * Calls `resolveModelPath(source, directory)` in a child node process with `env` added to the environment, and
 * kills it if it has not finished after `deadlineSeconds`: a hanging download cannot keep the test process alive.
 */
export function resolveInChild(
  source: string,
  directory: string,
  env: Record<string, string | undefined>,
  deadlineSeconds: number,
): Promise<ChildResolve> {
  const started = performance.now();
  const seconds = (): number => Math.round((performance.now() - started) / 100) / 10;
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env };
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete childEnv[key];
      else childEnv[key] = value;
    }
    const child = spawn(process.execPath, [CHILD_SCRIPT, source, directory], {
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, deadlineSeconds * 1000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", () => {
      clearTimeout(timer);
      if (timedOut) return resolve({ outcome: "pending", seconds: seconds() });
      try {
        const printed = JSON.parse(stdout.trim()) as { path?: string; name?: string; message?: string };
        if (printed.path !== undefined) resolve({ outcome: "resolved", path: printed.path, seconds: seconds() });
        else resolve({ outcome: "threw", name: printed.name ?? "", message: printed.message ?? "", seconds: seconds() });
      } catch {
        reject(new Error(`resolve-child printed no result; stdout: ${stdout} stderr: ${stderr}`));
      }
    });
  });
}
