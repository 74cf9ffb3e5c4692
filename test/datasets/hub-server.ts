/** A stand-in for the Hugging Face hub on 127.0.0.1 (not a test file itself): files, redirects, tokens, Range. */

import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the server saw it. */
export interface SeenRequest {
  path: string;
  range: string | undefined;
  authorization: string | undefined;
  status: number;
}

export interface FileRoute {
  body: Buffer;
  /** Extra response headers (X-Linked-ETag, ETag, …). */
  headers?: Record<string, string>;
  /** Answer every request with the whole file (200), as servers without Range support do. */
  ignoreRange?: boolean;
  /** Only `Authorization: Bearer <bearer>` gets the file; anything else gets 401. */
  bearer?: string;
  /** Send the headers and this many bytes of the body, then nothing more (the connection stays open). */
  stallAfter?: number;
  /** Answer every request with this status and a short text body instead of the file. */
  status?: number;
}

type Route = ({ kind: "file" } & FileRoute) | { kind: "redirect"; location: string; headers: Record<string, string> };

export class HubServer {
  readonly requests: SeenRequest[] = [];
  private readonly routes = new Map<string, Route>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<HubServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const hub = new HubServer(server, (server.address() as AddressInfo).port);
    server.on("request", (req, res) => hub.handle(req, res));
    return hub;
  }

  /** What HF_ENDPOINT is set to. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  file(path: string, route: FileRoute): this {
    this.routes.set(path, { kind: "file", ...route });
    return this;
  }

  /** A 302 to `location` (a path or a full URL) with `headers`, as the hub answers for LFS files. */
  redirect(path: string, location: string, headers: Record<string, string> = {}): this {
    this.routes.set(path, { kind: "redirect", location, headers });
    return this;
  }

  reset(): void {
    this.routes.clear();
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? "/", "http://hub").pathname;
    const seen: SeenRequest = { path, range: req.headers.range, authorization: req.headers.authorization, status: 0 };
    this.requests.push(seen);
    const reply = (status: number, headers: Record<string, string | number>, body?: Uint8Array): void => {
      seen.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    const route = this.routes.get(path);
    if (route === undefined) return reply(404, { "content-type": "text/plain" }, Buffer.from("not found"));
    if (route.kind === "redirect") return reply(302, { ...route.headers, location: route.location });
    if (route.bearer !== undefined && req.headers.authorization !== `Bearer ${route.bearer}`) {
      return reply(401, { "content-type": "text/plain" }, Buffer.from("unauthorized"));
    }
    if (route.status !== undefined) return reply(route.status, { "content-type": "text/plain" }, Buffer.from(`status ${route.status}`));
    const { body } = route;
    const headers = { "content-type": "application/octet-stream", ...route.headers };
    if (route.stallAfter !== undefined) {
      seen.status = 200;
      res.writeHead(200, { ...headers, "content-length": body.length });
      res.write(body.subarray(0, route.stallAfter));
      return; // and never end: close() ends the connection
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range === null || route.ignoreRange === true) return reply(200, { ...headers, "content-length": body.length }, body);
    const start = Number(range[1]);
    if (start >= body.length) return reply(416, { "content-range": `bytes */${body.length}` });
    return reply(
      206,
      { ...headers, "content-length": body.length - start, "content-range": `bytes ${start}-${body.length - 1}/${body.length}` },
      body.subarray(start),
    );
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Where the hub serves a dataset file. */
export function resolvePath(repo: string, revision: string, file: string): string {
  return `/datasets/${repo}/resolve/${revision}/${file}`;
}
