/**
 * The one way the tests find third-party files the repository does not carry (LongBench's official files, PG19
 * stand-in books, the stories260K model): under $CASCADE_EVAL_FIXTURES, else `../shared` beside the project
 * (src/util/paths.ts, the same place the CI-scale reproduction reads its {fixtures} from).
 *
 * A test that reads such a file declares it with `{ skip: needs("data/…") }`: when a file is missing the test is
 * reported as skipped, never passed, and stderr says in one line per missing file which one it is. In CI
 * (CASCADE_EVAL_REQUIRE_FIXTURES=1, set by .ci/run) nothing is skipped: the test runs and fails on the missing file.
 */
import { existsSync } from "node:fs";
import { fixturesPath } from "../src/util/paths.js";

/** The path of a fixture, `relative` to the fixtures folder (e.g. "data/pg19/pg19-test-approx.jsonl.xz"). */
export function fixture(relative: string): string {
  return fixturesPath(relative);
}

/** Missing fixtures already named on stderr by this process (one line per file, however many tests need it). */
const reported = new Set<string>();

/**
 * For node:test's `skip` option: false when every fixture exists (or when CASCADE_EVAL_REQUIRE_FIXTURES=1, so that
 * the test runs and fails loudly), otherwise the reason to skip, after naming each missing file once on stderr.
 */
export function needs(...relative: string[]): string | false {
  if (process.env.CASCADE_EVAL_REQUIRE_FIXTURES === "1") return false;
  const missing = relative.filter((file) => !existsSync(fixture(file)));
  if (missing.length === 0) return false;
  const root = fixturesPath();
  for (const file of missing) {
    if (reported.has(file)) continue;
    reported.add(file);
    process.stderr.write(`skipped: fixture ${file} not found under ${root} (set CASCADE_EVAL_FIXTURES)\n`);
  }
  return `fixture ${missing.join(", ")} not found under ${root}`;
}
