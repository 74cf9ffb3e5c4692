/** One way every task command runs: its flags become the task's options (or --resume reads them back), then the runner. */
import type { Command } from "commander";
import { PACING_OPTIONS, runTask, type AnyTask, type TaskOptions } from "../tasks/runner.js";
import { parseShard } from "../tasks/shard.js";
import { commonOptions, interruptController, resumeRun, runSettings, type CommonFlags } from "./common.js";

/** Flags that are run settings, not task options: a resume may give them again. */
const SETTINGS = new Set(["gpu", "threads", "flashAttention", "results", "format", "progress", "resume", "datasetsDir"]);

export const SHARD_HELP = "run only shard K of N (K from 1 to N; auto/N: K from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX + 1), balanced by tokens; join the shards with cascade-eval merge";

export interface TaskCommandExtras {
  /** Settings that are the task's options too (bench records --flash-attention). */
  alsoOptions?: readonly string[];
  /** Whether the task takes --shard (default true; bench's figures compare policies measured on one machine). */
  shards?: boolean;
}

/**
 * Adds the common flags, --resume and --shard to a task's command, and its action: the options from `toOptions`
 * (or the run's own on --resume, which refuses the task's flags given again, --shard included: a shard resumes as
 * itself), run by the one runner; exit 130 when interrupted.
 */
export function taskCommand<Options extends TaskOptions>(
  task: AnyTask,
  command: Command,
  toOptions: (flags: CommonFlags & Record<string, unknown>) => Options | Promise<Options>,
  { alsoOptions = [], shards = true }: TaskCommandExtras = {},
): Command {
  command.option("--resume <run>", `continue an interrupted run (folder or run id) without redoing finished ${task.recordsName}`);
  if (shards) command.option("--shard <K/N>", SHARD_HELP);
  return commonOptions(command).action(async (flags: CommonFlags & Record<string, unknown>) => {
    const taskFlags = command.options
      .map((option) => option.attributeName())
      .filter((name) => (!SETTINGS.has(name) || alsoOptions.includes(name)) && !PACING_OPTIONS.includes(name));
    const resumed = typeof flags.resume === "string" ? resumeRun<Options>(command, flags.resume, flags.results, taskFlags) : undefined;
    const shard = typeof flags.shard === "string" ? parseShard(flags.shard) : undefined;
    const options = resumed ? { ...resumed.options } : await toOptions(flags);
    for (const name of PACING_OPTIONS) if (resumed && command.getOptionValueSource(name) === "cli") Object.assign(options, { [name]: flags[name] });
    const controller = interruptController();
    await runTask(task, options, runSettings(flags as CommonFlags & { datasetsDir?: string }, controller.signal), resumed?.folder, shard);
    if (controller.signal.aborted) process.exitCode = 130;
  });
}
