/**
 * Child process of the engine I/O tests (not a test file itself):
 * `node resolve-child.js <source> <directory>` calls resolveModelPath and prints one JSON line,
 * `{"path": …}` or `{"name": …, "message": …}`. Run without arguments (as a test runner might) it does nothing.
 */

import { resolveModelPath } from "../../src/engine/model.js";

const [source, directory] = process.argv.slice(2);
if (source !== undefined && directory !== undefined) {
  try {
    const path = await resolveModelPath(source, directory);
    process.stdout.write(`${JSON.stringify({ path })}\n`);
  } catch (error) {
    const { name, message } = error instanceof Error ? error : { name: "non-Error", message: String(error) };
    process.stdout.write(`${JSON.stringify({ name, message })}\n`);
  }
}
