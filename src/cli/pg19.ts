import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { readSource } from "../datasets/hub.js";
import { parsePolicyNames } from "../policies/index.js";
import { resolve } from "node:path";
import { runPg19, type Chunking, type Pg19Options } from "../tasks/pg19/run.js";
import { commonOptions, interruptController, resumeRun, runSettings, type CommonFlags } from "./common.js";
import { parseChoice, parseCount, parseLength } from "./parse.js";

const CHUNKINGS: readonly Chunking[] = ["stream", "llama-perplexity"];

/** The task's options as flags: the source as --data, the policies as one --policy list, the model common. */
type Pg19Flags = CommonFlags & Omit<Pg19Options, "source" | "policies" | "model"> & { data?: string; datasetsDir?: string; policy: string; resume?: string };

/** Flags that `--resume` takes from the run's own `run.json` and therefore refuses on the command line. */
const TASK_FLAGS = ["data", "policy", "sinks", "window", "stride", "cascades", "maxTokens", "chunking", "ctx", "curveBin", "model"];

export function pg19Command(): Command {
  const command = new Command("pg19")
    .description("PG19 streaming perplexity: each book tokenized whole and streamed through each cache policy (PROTOCOLS §3)")
    .option("--data <path>", "books: JSONL (.xz/.zst) or parquet in the PG19 schema, or a folder of .txt files (default: the hub's emozilla/pg19-test, once fetched)")
    .option("--datasets-dir <dir>", "dataset cache (default: $CASCADE_EVAL_DATASETS or datasets/)")
    .option("--policy <list>", "cache policies, run side by side on the same books", "full,sink-window,cascading")
    .option("--sinks <n>", "attention sinks", parseCount("--sinks", 0), 64)
    .option("--window <n>", "tokens kept after the sinks (default: 32768, halved until it fits the model's context)", parseCount("--window", 1))
    .option("--stride <n>", "tokens per chunk; the policy runs after each", parseCount("--stride", 1), 1024)
    .option("--cascades <n>", "sub-caches of the cascading policy", parseCount("--cascades", 1), 4)
    .option("--max-tokens <n>", "cap each book at its first N tokens (e.g. 64K)", (text: string) => parseLength(text))
    .addOption(new Option("--chunking <mode>", "stream: one persistent cache per book; llama-perplexity: fresh n_ctx chunks scored on their second half, as llama.cpp's tool").default("stream").argParser(parseChoice("--chunking", CHUNKINGS)))
    .option("--ctx <n>", "n_ctx of --chunking llama-perplexity", (text: string) => parseLength(text), 4096)
    .option("--curve-bin <n>", "tokens per point of the perplexity-by-position curve", parseCount("--curve-bin", 1), 1024)
    .option("--resume <run>", "continue an interrupted run (folder or run id) without redoing finished books");
  commonOptions(command).action(async (flags: Pg19Flags) => {
    const resumed = typeof flags.resume === "string" ? resumeRun<Pg19Options>(command, flags.resume, flags.results, TASK_FLAGS) : undefined;
    const options: Pg19Options = resumed?.options ?? {
      source: flags.data !== undefined ? resolve(flags.data) : "pg19-test",
      policies: parsePolicyNames(flags.policy),
      sinks: flags.sinks,
      window: flags.window,
      stride: flags.stride,
      cascades: flags.cascades,
      maxTokens: flags.maxTokens,
      chunking: flags.chunking,
      ctx: flags.ctx,
      curveBin: flags.curveBin,
      model: flags.model ?? DEFAULT_MODEL,
    };
    const documents = await readSource(options.source, { datasetsDir: flags.datasetsDir });
    const controller = interruptController();
    await runPg19(documents, options, runSettings(flags, controller.signal), resumed?.folder);
    if (controller.signal.aborted) process.exitCode = 130;
  });
  return command;
}
