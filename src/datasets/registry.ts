/** The evaluation datasets cascade-eval knows, as files of Hugging Face hub dataset repositories. */
import { UsageError } from "../errors.js";

/** How src/datasets/local.ts reads the files: parquet, JSONL (.zst), or one JSONL member of a zip archive. */
export type DatasetFormat = "parquet" | "jsonl.zst" | "zip";

export interface DatasetSpec {
  /** The dataset repository on the hub, `owner/name`. */
  repo: string;
  /** Branch, tag or commit of the repository. */
  revision: string;
  /** Paths inside the repository, all downloaded. */
  files: readonly string[];
  format: DatasetFormat;
}

export const DATASETS = {
  /**
   * PG19's test split (100 books): columns short_book_title, publication_date, url, text (the card's
   * dataset_info lists no book_id). The file name is the one `push_to_hub` gave it (commit c5e39bf of the repo);
   * verify with `curl -sI https://huggingface.co/datasets/emozilla/pg19-test/resolve/main/<file>` (expect a 302
   * with X-Linked-Size 24874679, the card's download_size) or the repo's "Files" tab.
   */
  "pg19-test": {
    repo: "emozilla/pg19-test",
    revision: "main",
    files: ["data/test-00000-of-00001-29a571947c0b5ccc.parquet"],
    format: "parquet",
  },
  booksum: {
    repo: "togethercomputer/Long-Data-Collections",
    revision: "main",
    files: ["fine-tune/booksum.jsonl.zst"],
    format: "jsonl.zst",
  },
  longbench: {
    repo: "THUDM/LongBench",
    revision: "main",
    files: ["data.zip"],
    format: "zip",
  },
} as const satisfies Record<string, DatasetSpec>;

export type DatasetId = keyof typeof DATASETS;

export const DATASET_IDS = Object.keys(DATASETS) as DatasetId[];

export function isDatasetId(id: string): id is DatasetId {
  return Object.hasOwn(DATASETS, id);
}

/** The dataset registered as `id`; a one-line UsageError naming the known ids otherwise. */
export function datasetSpec(id: string): DatasetSpec {
  if (!isDatasetId(id)) throw new UsageError(`unknown dataset '${id}' (known: ${DATASET_IDS.join(", ")})`);
  return DATASETS[id];
}
