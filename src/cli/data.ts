import { Command } from "commander";
import { datasetsDirectory, fetchDataset, isDatasetCached, type DownloadProgress } from "../datasets/hub.js";
import { DATASET_IDS, DATASETS, datasetSpec } from "../datasets/registry.js";
import { oneLineErrors } from "./common.js";

interface DataFlags {
  datasetsDir?: string;
}

const DATASETS_DIR_FLAG = "--datasets-dir <dir>";
const DATASETS_DIR_HELP = "dataset cache (default: $CASCADE_EVAL_DATASETS or datasets/)";
const PROGRESS_INTERVAL_MS = 1000;

/** `data fetch` and `data list`: the hub datasets the tasks read (downloads honour HF_ENDPOINT and HF_TOKEN). */
export function dataCommand(): Command {
  return new Command("data")
    .description("evaluation datasets from the Hugging Face hub: download them once, then run offline")
    .addCommand(oneLineErrors(fetchCommand()))
    .addCommand(oneLineErrors(listCommand()));
}

function fetchCommand(): Command {
  return new Command("fetch")
    .description(`download datasets into the cache, resuming partial downloads (known: ${DATASET_IDS.join(", ")})`)
    .argument("<ids...>", "dataset ids")
    .option(DATASETS_DIR_FLAG, DATASETS_DIR_HELP)
    .option("--force", "download again even what is cached (a cached file that is wrong)")
    .action(async (ids: string[], flags: DataFlags & { force?: boolean }) => {
      ids.forEach(datasetSpec); // a misspelt id fails before any download starts
      for (const id of ids) {
        if (isDatasetCached(id, flags)) process.stderr.write(`${id}: ${flags.force === true ? "cached; downloading again (--force)" : "already cached"}\n`);
        const paths = await fetchDataset(id, { datasetsDir: flags.datasetsDir, onProgress: progressLines(id), force: flags.force });
        for (const path of paths) process.stdout.write(`${path}\n`);
      }
    });
}

function listCommand(): Command {
  return new Command("list")
    .description("the known datasets and whether each is cached")
    .option(DATASETS_DIR_FLAG, DATASETS_DIR_HELP)
    .action((flags: DataFlags) => {
      const rows = [["id", "repo", "files", "cached"]];
      for (const id of DATASET_IDS) {
        const { repo, files } = DATASETS[id];
        rows.push([id, repo, files.join(", "), isDatasetCached(id, flags) ? "yes" : "no"]);
      }
      const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
      for (const row of rows) process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()}\n`);
      process.stdout.write(`cache: ${datasetsDirectory(flags.datasetsDir)}\n`);
    });
}

/** Progress on stderr at most once a second, plus each file's last line, so logs stay short. */
function progressLines(id: string): DownloadProgress {
  let lastPrinted = 0;
  return (file, received, total) => {
    const now = Date.now();
    if (received !== total && now - lastPrinted < PROGRESS_INTERVAL_MS) return;
    lastPrinted = now;
    const percent = total === undefined ? "" : ` / ${megabytes(total)} (${total === 0 ? 100 : Math.floor((100 * received) / total)}%)`;
    process.stderr.write(`${id}: ${file} ${megabytes(received)}${percent}\n`);
  };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
