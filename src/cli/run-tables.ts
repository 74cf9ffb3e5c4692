import { UsageError } from "../errors.js";
import type { Table } from "../printers/table.js";
import type { RunFolder } from "../results/run-folder.js";
import { booksumTables, type BooksumRecord } from "../tasks/booksum/summary.js";
import type { PasskeyRecord } from "../tasks/passkey/record.js";
import { passkeyTables } from "../tasks/passkey/summary.js";
import { pg19Tables, type Pg19Record } from "../tasks/pg19/summary.js";
import { benchRunTables } from "./bench.js";
import { longBenchRunTables } from "./longbench.js";

const TASKS_WITH_TABLES = ["passkey", "pg19", "booksum", "longbench", "bench"] as const;

/** The task a run folder holds, refused when it has no table printer. */
export function taskOf(folder: RunFolder): (typeof TASKS_WITH_TABLES)[number] {
  const task = folder.manifest<{ task?: string }>().task;
  if (!(TASKS_WITH_TABLES as readonly (string | undefined)[]).includes(task)) throw new UsageError(`${folder.path}: task '${task}' has no table printer yet`);
  return task as (typeof TASKS_WITH_TABLES)[number];
}

/** The tables of saved runs of one task, rebuilt from their records (runs of passkey and pg19 side by side). */
export function tablesOfRuns(folders: readonly RunFolder[]): Table[] {
  const tasks = new Set(folders.map(taskOf));
  if (tasks.size > 1) throw new UsageError(`runs of different tasks (${[...tasks].join(", ")}) cannot share a table`);
  const [task] = tasks;
  switch (task) {
    case "bench":
      return folders.flatMap(benchRunTables);
    case "longbench":
      return folders.flatMap(longBenchRunTables);
    case "booksum":
      return folders.flatMap((folder) => booksumTables(folder.id, folder.records<BooksumRecord>()));
    case "pg19":
      return pg19Tables(folders.map((folder) => ({ runId: folder.id, records: folder.records<Pg19Record>(), skipped: folder.manifest<{ skipped?: string[] }>().skipped })));
    default:
      return passkeyTables(folders.map((folder) => ({ runId: folder.id, records: folder.records<PasskeyRecord>() })));
  }
}
