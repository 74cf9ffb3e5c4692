import { Command, Option } from "commander";
import { DEFAULT_RESULTS_DIRECTORY } from "../config.js";
import { render } from "../printers/index.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../printers/table.js";
import { RunFolder } from "../results/run-folder.js";
import { mergeShards } from "../tasks/merge.js";
import { parseChoice } from "./parse.js";

export function mergeCommand(): Command {
  return new Command("merge")
    .description("join the run folders of a sharded run (--shard K/N, all N of them, finished) into one run folder")
    .argument("<runs...>", "the shards' run folders or run ids")
    .option("-o, --output <dir>", "the merged run folder to create (default: a new run id under --results)")
    .option("--results <dir>", "folder holding run ids, and the merged run by default", DEFAULT_RESULTS_DIRECTORY)
    .addOption(new Option("--format <format>", "terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .action((runs: string[], flags: { output?: string; results: string; format: OutputFormat }) => {
      const { folder, tables } = mergeShards(runs.map((run) => RunFolder.open(run, flags.results)), flags.results, flags.output);
      process.stdout.write(render(tables, flags.format));
      process.stderr.write(`merged ${runs.length} shards into ${folder.path}\n`);
    });
}
