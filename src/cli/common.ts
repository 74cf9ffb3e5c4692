import { Command, Option } from "commander";
import { DEFAULT_RESULTS_DIRECTORY } from "../config.js";
import { GPU_CHOICES, type GpuChoice } from "../engine/llama.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../printers/table.js";
import { parseChoice, parseCount } from "./parse.js";

/** Flags every model-running command takes. */
export interface CommonFlags {
  model?: string;
  gpu: GpuChoice;
  threads?: number;
  results: string;
  format: OutputFormat;
  progress: boolean;
}

export function commonOptions(command: Command): Command {
  return command
    .option("--model <path|uri>", "GGUF file or model URI (hf:…, https://…); default: the embedded model")
    .addOption(new Option("--gpu <kind>", "auto, cuda, vulkan or cpu").default("auto").argParser(parseChoice("--gpu", GPU_CHOICES)))
    .option("--threads <n>", "CPU threads (default: physical cores)", parseCount("--threads", 1))
    .option("--results <dir>", "folder for run folders", DEFAULT_RESULTS_DIRECTORY)
    .addOption(new Option("--format <format>", "final table format: terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .option("--no-progress", "plain progress lines instead of the live view");
}

/** First Ctrl-C or SIGTERM: finish writing and stop after the current chunk; second Ctrl-C: leave at once. */
export function interruptController(): AbortController {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
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
