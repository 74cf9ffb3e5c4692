import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The project root, found from this file's place in both `src/util` and `dist/src/util`. */
const here = fileURLToPath(new URL(".", import.meta.url));
export const PROJECT_ROOT = here.includes("/dist/") ? join(here, "..", "..", "..") : join(here, "..", "..");

export function projectPath(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}
