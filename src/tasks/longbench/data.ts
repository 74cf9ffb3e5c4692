/** LongBench items from the hub's data.zip (once fetched) or local JSONL files in the official schema. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { readSource, type CacheOptions } from "../../datasets/hub.js";
import { readDocuments } from "../../datasets/local.js";
import { isDatasetId } from "../../datasets/registry.js";
import { UsageError } from "../../errors.js";
import type { LongBenchConfig } from "./config.js";

/** One record of a LongBench file: what the prompt is filled from and what the prediction file keeps. */
export interface LongBenchItem {
  /** 0-based line of the file. */
  index: number;
  id: string;
  fields: Record<string, unknown>;
  answers: string[];
  all_classes: string[] | null;
  length: number;
}

const EXTENSIONS = [".jsonl", ".jsonl.xz", ".jsonl.zst"];

/** The file name of a dataset: `DATASET` or, for LongBench-E, `DATASET_e`. */
export function datasetFileName(dataset: string, e: boolean): string {
  return e ? `${dataset}_e` : dataset;
}

/** The dataset a local file holds, from its name (`multi_news.jsonl.xz` → multi_news, `qasper_e.jsonl` → qasper). */
export function datasetOfFile(path: string): { dataset: string; e: boolean } {
  const name = EXTENSIONS.reduce((stem, extension) => (stem.endsWith(extension) ? stem.slice(0, -extension.length) : stem), basename(path));
  return name.endsWith("_e") ? { dataset: name.slice(0, -2), e: true } : { dataset: name, e: false };
}

/** The LongBench datasets a folder holds files of (`DATASET_e` ones for LongBench-E), in the official order. */
export function datasetsInFolder(folder: string, e: boolean, config: LongBenchConfig): string[] {
  const present = new Set(readdirSync(folder).map((name) => datasetOfFile(name)).filter((file) => file.e === e).map((file) => file.dataset));
  return Object.keys(config.datasets).filter((dataset) => present.has(dataset));
}

/**
 * The items of one dataset. `source` is the hub id `longbench` (its cached data.zip, member data/DATASET.jsonl),
 * a local copy of data.zip, a folder of DATASET.jsonl[.xz|.zst] files, or one such file.
 */
export async function readLongBenchItems(source: string, dataset: string, e: boolean, options: CacheOptions = {}): Promise<LongBenchItem[]> {
  const fileName = datasetFileName(dataset, e);
  const member = `data/${fileName}.jsonl`;
  let documents;
  if (isDatasetId(source)) documents = await readSource(source, { ...options, textField: "context", member });
  else if (source.endsWith(".zip")) documents = await readDocuments(source, { textField: "context", member });
  else if (existsSync(source) && statSync(source).isDirectory()) {
    const file = EXTENSIONS.map((extension) => join(source, `${fileName}${extension}`)).find((path) => existsSync(path));
    if (file === undefined) throw new UsageError(`--data ${source}: no ${fileName}.jsonl (or .jsonl.xz, .jsonl.zst) in the folder`);
    documents = await readDocuments(file, { textField: "context" });
  } else documents = await readDocuments(source, { textField: "context" });
  return documents.map((document, index) => checkedItem(document.fields, index, `${source} (${fileName}), line ${index + 1}`));
}

function checkedItem(fields: Record<string, unknown>, index: number, where: string): LongBenchItem {
  const { answers, all_classes: allClasses, length, _id: id } = fields;
  if (typeof fields.input !== "string") throw new UsageError(`${where}: no string field "input"`);
  if (!Array.isArray(answers) || !answers.every((answer) => typeof answer === "string")) throw new UsageError(`${where}: "answers" is not a list of strings`);
  if (allClasses !== null && allClasses !== undefined && !(Array.isArray(allClasses) && allClasses.every((name) => typeof name === "string")))
    throw new UsageError(`${where}: "all_classes" is neither null nor a list of strings`);
  if (typeof length !== "number") throw new UsageError(`${where}: no number field "length"`);
  return { index, id: typeof id === "string" ? id : String(index), fields, answers, all_classes: (allClasses ?? null) as string[] | null, length };
}
