/** The tasks the CLI runs, `table` rebuilds and `reproduce` reports on: one list, one lookup. */
import { UsageError } from "../errors.js";
import type { Table } from "../printers/table.js";
import type { RunFolder } from "../results/run-folder.js";
import { benchTask } from "./bench/run.js";
import { booksumTask } from "./booksum/run.js";
import { longBenchTask } from "./longbench/run.js";
import { passkeyTask } from "./passkey/run.js";
import { pg19Task } from "./pg19/run.js";
import { markPartial, type AnyTask } from "./runner.js";

export const TASKS: readonly AnyTask[] = [passkeyTask, pg19Task, booksumTask, longBenchTask, benchTask];

/** The task a run folder holds, refused when no task of this version writes such runs. */
export function taskOf(folder: RunFolder): AnyTask {
  const name = folder.manifest<{ task?: string }>().task;
  const task = TASKS.find((each) => each.name === name);
  if (task === undefined) throw new UsageError(`${folder.path}: task '${name}' has no table printer`);
  return task;
}

/** The tables of saved runs of one task, rebuilt from their records (runs of passkey and pg19 side by side). */
export function tablesOfRuns(folders: readonly RunFolder[]): Table[] {
  const tasks = new Set(folders.map(taskOf));
  if (tasks.size > 1) throw new UsageError(`runs of different tasks (${[...tasks].map((task) => task.name).join(", ")}) cannot share a table`);
  const [task] = tasks;
  const progress = folders.map((folder) => ({
    folder,
    task: task!.name,
    done: folder.records(task!.recordKey).length,
    planned: folder.manifest<{ plannedRecords?: number }>().plannedRecords,
  }));
  return markPartial(task!.savedTables(folders), progress);
}
