import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The project root, found from this file's place in both `src/util` and `dist/src/util`. */
const here = fileURLToPath(new URL(".", import.meta.url));
export const PROJECT_ROOT = here.includes("/dist/") ? join(here, "..", "..", "..") : join(here, "..", "..");

export function projectPath(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}

/** cascade-eval's version, from its package.json. */
export function projectVersion(): string {
  return (JSON.parse(readFileSync(projectPath("package.json"), "utf8")) as { version: string }).version;
}

/**
 * Third-party files the repository does not carry (LongBench's official files, stand-in books, a small real model),
 * which the tests and the CI-scale reproduction read: under $CASCADE_EVAL_FIXTURES, else `../shared` beside the project.
 */
export function fixturesPath(...parts: string[]): string {
  const root = process.env.CASCADE_EVAL_FIXTURES;
  return join(root ? resolve(root) : join(PROJECT_ROOT, "..", "shared"), ...parts);
}

/** The root folder of the installed node-llama-cpp package. */
export function nodeLlamaCppRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && existsSync(join(dir, "llama"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the node-llama-cpp package folder");
    dir = parent;
  }
}
