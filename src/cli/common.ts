import { Command, Option } from "commander";
import { DEFAULT_RESULTS_DIRECTORY } from "../config.js";
import { GPU_CHOICES, type GpuChoice } from "../engine/llama.js";
import { UsageError } from "../errors.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../printers/table.js";
import { RunFolder } from "../results/run-folder.js";
import type { RunSettings } from "../tasks/runner.js";
import { InkReporter } from "../ui/ink-reporter.js";
import { LineReporter } from "../ui/progress.js";
import { parseChoice, parseCount } from "./parse.js";

const FLASH_ATTENTION = ["auto", "on", "off"] as const;

/** Flags every model-running command takes. */
export interface CommonFlags {
  model?: string;
  gpu: GpuChoice;
  threads?: number;
  flashAttention: (typeof FLASH_ATTENTION)[number];
  results: string;
  format: OutputFormat;
  progress: boolean;
}

export function commonOptions(command: Command): Command {
  return command
    .option("--model <path|uri>", "GGUF file or model URI (hf:…, https://…); default: the embedded model")
    .addOption(new Option("--gpu <kind>", "auto, cuda, vulkan or cpu").default("auto").argParser(parseChoice("--gpu", GPU_CHOICES)))
    .option("--threads <n>", "CPU threads (default: physical cores)", parseCount("--threads", 1))
    .addOption(
      new Option("--flash-attention <mode>", "llama.cpp's flash-attention kernels: auto (on a GPU whose kernels cover the model's head size), on or off")
        .default("auto")
        .argParser(parseChoice("--flash-attention", FLASH_ATTENTION)),
    )
    .option("--results <dir>", "folder for run folders", DEFAULT_RESULTS_DIRECTORY)
    .addOption(new Option("--format <format>", "final table format: terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .option("--no-progress", "plain progress lines instead of the live view");
}

/**
 * A repeat of the first signal within this time is the same request: `timeout` and other supervisors signal the
 * process and then its whole process group, which delivers SIGTERM twice at once.
 */
const DUPLICATE_SIGNAL_MS = 1000;

/** First Ctrl-C or SIGTERM: finish writing and stop after the current chunk; a later second one: leave at once. */
export function interruptController(): AbortController {
  const controller = new AbortController();
  let firstAt = 0;
  const stop = () => {
    if (controller.signal.aborted) {
      if (performance.now() - firstAt > DUPLICATE_SIGNAL_MS) process.exit(130);
      return;
    }
    firstAt = performance.now();
    process.stderr.write("\nstopping after the current chunk (Ctrl-C again to quit at once; finished samples are saved)\n");
    controller.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return controller;
}

/** Commander's errors as one line (its suggestions folded in) and a thrown exit instead of process.exit. */
export function oneLineErrors(command: Command): Command {
  return command.exitOverride().configureOutput({
    outputError: (text, write) => write(`${text.trim().replace(/\s*\n\s*/g, " ")} (see --help)\n`),
  });
}

/**
 * For `--resume RUN`: the run folder and the options stored in its `run.json`, with the model as resolved then
 * (an absolute path, so a resume works from any folder; its sha256 is checked when the model loads). Task flags
 * given again on the command line are refused rather than silently ignored.
 */
export function resumeRun<Options>(command: Command, run: string, results: string, taskFlags: readonly string[]): { folder: RunFolder; options: Options } {
  const folder = RunFolder.open(run, results);
  const manifest = folder.manifest<{ task?: string; options: Options; model: { path: string } }>();
  if (manifest.task !== command.name())
    throw new UsageError(`${folder.path} is a ${manifest.task ?? "unknown task's"} run, not a ${command.name()} run; continue it with: cascade-eval ${manifest.task ?? "TASK"} --resume ${run}`);
  const given = taskFlags.filter((flag) => command.getOptionValueSource(flag) === "cli");
  if (given.length > 0) throw new UsageError(`--resume repeats the run's own settings; drop ${given.map((flag) => `--${flag}`).join(", ")}`);
  return { folder, options: { ...manifest.options, model: manifest.model.path } };
}

/** --flash-attention as the engine takes it: on, off, or undefined for the engine's default. */
export function flashAttentionFlag(flags: Pick<CommonFlags, "flashAttention">): boolean | undefined {
  return flags.flashAttention === "auto" ? undefined : flags.flashAttention === "on";
}

/** The settings a task run takes from the common flags: live view on a terminal, plain lines otherwise. */
export function runSettings(flags: CommonFlags & { datasetsDir?: string }, signal: AbortSignal): RunSettings {
  return {
    gpu: flags.gpu,
    threads: flags.threads,
    flashAttention: flashAttentionFlag(flags),
    resultsDirectory: flags.results,
    datasetsDir: flags.datasetsDir,
    format: flags.format,
    reporter: flags.progress && process.stderr.isTTY === true ? new InkReporter() : new LineReporter(),
    signal,
  };
}
