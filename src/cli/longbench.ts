import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { render } from "../printers/index.js";
import { OUTPUT_FORMATS, type OutputFormat, type Table } from "../printers/table.js";
import { LENGTH_BUCKETS, loadLongBenchDatasets, scoreFolder } from "../tasks/longbench/score.js";
import { writeFileAtomic } from "../util/files.js";
import { oneLineErrors } from "./common.js";
import { parseChoice } from "./parse.js";

/** `longbench score`: the official eval.py over a folder of prediction files (generation comes with issue 5's run). */
export function longbenchCommand(): Command {
  return new Command("longbench").description("LongBench v1 (PROTOCOLS §4)").addCommand(oneLineErrors(scoreCommand()));
}

function scoreCommand(): Command {
  return new Command("score")
    .description("score a folder of official-format DATASET.jsonl predictions ({pred, answers, all_classes, length}) and write result.json as the official eval.py does")
    .argument("<pred-dir>", "folder of prediction files")
    .option("--e", "LongBench-E: scores per length bucket (0-4k, 4-8k, 8k+)")
    .addOption(new Option("--format <format>", "table format: terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .action((folder: string, flags: { e?: boolean; format: OutputFormat }) => {
      const scores = scoreFolder(resolve(folder), flags.e === true);
      const path = join(resolve(folder), "result.json");
      writeFileAtomic(path, resultJson(scores));
      process.stdout.write(render([scoreTable(scores, flags.e === true)], flags.format));
      process.stderr.write(`wrote ${path}\n`);
    });
}

function scoreTable(scores: Record<string, number | Record<string, number>>, byLength: boolean): Table {
  const datasets = loadLongBenchDatasets();
  const names = Object.keys(datasets).filter((name) => name in scores);
  return {
    title: byLength ? "LongBench-E scores by length" : "LongBench scores",
    head: byLength ? ["dataset", "metric", ...LENGTH_BUCKETS] : ["dataset", "metric", "score"],
    rows: names.map((name) => {
      const score = scores[name]!;
      return [name, datasets[name]!.metric, ...(typeof score === "number" ? [score] : LENGTH_BUCKETS.map((bucket) => (Number.isNaN(score[bucket]) ? null : score[bucket]!)))];
    }),
    decimals: [undefined, undefined, 2, 2, 2],
  };
}

/** As eval.py's json.dump(scores, f, ensure_ascii=False, indent=4) writes it: floats keep ".0", NaN stays NaN. */
export function resultJson(scores: Record<string, number | Record<string, number>>, depth = 1): string {
  const pad = " ".repeat(4 * depth);
  const float = (value: number) => (Number.isNaN(value) ? "NaN" : Number.isInteger(value) ? value.toFixed(1) : String(value));
  const entries = Object.entries(scores).map(([key, value]) => `${pad}${JSON.stringify(key)}: ${typeof value === "number" ? float(value) : resultJson(value, depth + 1)}`);
  return `{\n${entries.join(",\n")}\n${" ".repeat(4 * (depth - 1))}}`;
}
