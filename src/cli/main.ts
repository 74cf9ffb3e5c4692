import { Command, CommanderError, Option } from "commander";
import { commonOptions, interruptController, oneLineErrors, resumeRun, runSettings, type CommonFlags } from "./common.js";
import { DEFAULT_MODEL, DEFAULT_RESULTS_DIRECTORY } from "../config.js";
import { UsageError } from "../errors.js";
import { parsePolicyNames } from "../policies/index.js";
import { render } from "../printers/index.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../printers/table.js";
import { RunFolder } from "../results/run-folder.js";
import { loadPasskeyConfig } from "../tasks/passkey/config.js";
import { FILLERS, type Filler } from "../tasks/passkey/haystack.js";
import { runPasskey, type PasskeyOptions } from "../tasks/passkey/run.js";
import { benchCommand } from "./bench.js";
import { booksumCommand } from "./booksum.js";
import { dataCommand } from "./data.js";
import { longbenchCommand } from "./longbench.js";
import { reproduceCommand } from "./reproduce.js";
import { tablesOfRuns } from "./run-tables.js";
import { modelCommand } from "./model.js";
import { extensionsCommand } from "./extensions.js";
import { pg19Command } from "./pg19.js";
import { parseChoice, parseCount, parseDepths, parseLengths } from "./parse.js";

/** Flags that `--resume` takes from the run's own `run.json` and therefore refuses on the command line. */
const TASK_FLAGS = ["len", "depths", "samples", "seed", "policy", "sinks", "window", "cascades", "stride", "filler", "model"];

function passkeyCommand(): Command {
  const defaults = loadPasskeyConfig().defaults;
  const command = new Command("passkey")
    .description("passkey retrieval: a 5-digit key hidden in a long haystack, answered greedily under each cache policy")
    .option("--len <lengths>", "prompt lengths in tokens, e.g. 4K,32K,1M", "4K")
    .option("--depths <list>", "depth bins d (key drawn in [d-0.2, d])", "0.2,0.4,0.6,0.8,1.0")
    .option("--samples <n>", "keys per length × depth", parseCount("--samples", 1), defaults.samples)
    .option("--seed <n>", "seed of keys, depths and haystacks", parseCount("--seed", 0), 1)
    .option("--policy <list>", "cache policies, run side by side on identical samples", "full,sink-window,cascading")
    .option("--sinks <n>", `attention sinks (default ${defaults.sinks})`, parseCount("--sinks", 0))
    .option("--window <n>", `tokens kept after the sinks (default: min(${defaults.window}, 2^floor(log2(len/4))))`, parseCount("--window", 1))
    .option("--cascades <n>", "sub-caches of the cascading policy", parseCount("--cascades", 1), defaults.cascades)
    .option("--stride <n>", `prefill chunk size (default: min(${defaults.stride}, window/2))`, parseCount("--stride", 1))
    .addOption(new Option("--filler <kind>", "haystack: dictionary words or llama.cpp's grass sentences").default("words").argParser(parseChoice("--filler", FILLERS)))
    .option("--resume <run>", "continue an interrupted run (folder or run id) without redoing finished samples");
  commonOptions(command).action(async (flags: CommonFlags & Record<string, unknown>) => {
    const resumed = typeof flags.resume === "string" ? resumeRun<PasskeyOptions>(command, flags.resume, flags.results, TASK_FLAGS) : undefined;
    const options: PasskeyOptions = resumed?.options ?? {
      lengths: parseLengths(String(flags.len)),
      depths: parseDepths(String(flags.depths)),
      samples: flags.samples as number,
      seed: flags.seed as number,
      policies: parsePolicyNames(String(flags.policy)),
      sinks: flags.sinks as number | undefined,
      window: flags.window as number | undefined,
      stride: flags.stride as number | undefined,
      cascades: flags.cascades as number,
      filler: flags.filler as Filler,
      model: flags.model ?? DEFAULT_MODEL,
    };
    const controller = interruptController();
    await runPasskey(options, runSettings(flags, controller.signal), resumed?.folder);
    if (controller.signal.aborted) process.exitCode = 130;
  });
  return command;
}

function tableCommand(): Command {
  return new Command("table")
    .description("rebuild the tables of saved runs, side by side")
    .argument("<runs...>", "run folders or run ids")
    .option("--results <dir>", "folder holding run ids", DEFAULT_RESULTS_DIRECTORY)
    .addOption(new Option("--format <format>", "terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .action((runs: string[], flags: { results: string; format: OutputFormat }) => {
      const tables = tablesOfRuns(runs.map((run) => RunFolder.open(run, flags.results)));
      process.stdout.write(render(tables, flags.format));
    });
}

export async function main(argv: string[]): Promise<void> {
  const program = oneLineErrors(
    new Command("cascade-eval").description("KV-cache policies (full, sink-window, cascading) on very long inputs, through llama.cpp"),
  );
  program.addCommand(oneLineErrors(passkeyCommand()));
  program.addCommand(oneLineErrors(pg19Command()));
  program.addCommand(oneLineErrors(booksumCommand()));
  program.addCommand(oneLineErrors(longbenchCommand()));
  program.addCommand(oneLineErrors(benchCommand()));
  program.addCommand(oneLineErrors(dataCommand()));
  program.addCommand(oneLineErrors(modelCommand()));
  program.addCommand(oneLineErrors(extensionsCommand()));
  program.addCommand(oneLineErrors(reproduceCommand()));
  program.addCommand(oneLineErrors(tableCommand()));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`cascade-eval: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
}
