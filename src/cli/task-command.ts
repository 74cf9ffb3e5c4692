/** One way every task command runs: its flags become the task's options (or --resume reads them back), then the runner. */
import type { Command } from "commander";
import { runTask, type AnyTask, type TaskOptions } from "../tasks/runner.js";
import { commonOptions, interruptController, resumeRun, runSettings, type CommonFlags } from "./common.js";

/** Flags that are run settings, not task options: a resume may give them again. */
const SETTINGS = new Set(["gpu", "threads", "flashAttention", "results", "format", "progress", "resume", "datasetsDir"]);
/** Task options that change how a run goes, not what it measures: a resume may give them anew. */
const PACING = ["parallel"];

/**
 * Adds the common flags and --resume to a task's command, and its action: the options from `toOptions` (or the
 * run's own on --resume, which refuses the task's flags given again), run by the one runner; exit 130 when
 * interrupted. `alsoOptions` names settings that are the task's options too (bench records --flash-attention).
 */
export function taskCommand<Options extends TaskOptions>(
  task: AnyTask,
  command: Command,
  toOptions: (flags: CommonFlags & Record<string, unknown>) => Options | Promise<Options>,
  alsoOptions: readonly string[] = [],
): Command {
  command.option("--resume <run>", `continue an interrupted run (folder or run id) without redoing finished ${task.recordsName}`);
  return commonOptions(command).action(async (flags: CommonFlags & Record<string, unknown>) => {
    const taskFlags = command.options
      .map((option) => option.attributeName())
      .filter((name) => (!SETTINGS.has(name) || alsoOptions.includes(name)) && !PACING.includes(name));
    const resumed = typeof flags.resume === "string" ? resumeRun<Options>(command, flags.resume, flags.results, taskFlags) : undefined;
    const options = resumed ? { ...resumed.options } : await toOptions(flags);
    for (const name of PACING) if (resumed && command.getOptionValueSource(name) === "cli") Object.assign(options, { [name]: flags[name] });
    const controller = interruptController();
    await runTask(task, options, runSettings(flags as CommonFlags & { datasetsDir?: string }, controller.signal), resumed?.folder);
    if (controller.signal.aborted) process.exitCode = 130;
  });
}
