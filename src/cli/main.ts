import { Command, CommanderError, Option } from "commander";
import { oneLineErrors } from "./common.js";
import { DEFAULT_RESULTS_DIRECTORY } from "../config.js";
import { UsageError } from "../errors.js";
import { render } from "../printers/index.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../printers/table.js";
import { RunFolder } from "../results/run-folder.js";
import { tablesOfRuns } from "../tasks/registry.js";
import { benchCommand } from "./bench.js";
import { booksumCommand } from "./booksum.js";
import { dataCommand } from "./data.js";
import { longbenchCommand } from "./longbench.js";
import { reproduceCommand } from "./reproduce.js";
import { mergeCommand } from "./merge.js";
import { modelCommand } from "./model.js";
import { extensionsCommand } from "./extensions.js";
import { passkeyCommand } from "./passkey.js";
import { pg19Command } from "./pg19.js";
import { parseChoice } from "./parse.js";
import { projectVersion } from "../util/paths.js";

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
    new Command("cascade-eval")
      .description("KV-cache policies (full, sink-window, cascading) on very long inputs, through llama.cpp")
      .version(projectVersion(), "-V, --version", "print cascade-eval's version"),
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
  program.addCommand(oneLineErrors(mergeCommand()));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // one convention (docs/usage.md): 0 done, 1 a check failed, 2 usage or input error, 130 interrupted
      process.exitCode = error.exitCode === 0 ? 0 : 2;
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
