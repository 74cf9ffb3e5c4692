import { Command } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { UsageError } from "../errors.js";
import { parsePolicyNames, validatePolicyConfig } from "../policies/index.js";
import type { Table } from "../printers/table.js";
import type { RunFolder } from "../results/run-folder.js";
import { runBench, type BenchOptions } from "../speed/run.js";
import { benchTables, type BenchRecord, type BenchSystem } from "../speed/tables.js";
import { commonOptions, flashAttentionFlag, interruptController, resumeRun, runSettings, type CommonFlags } from "./common.js";
import { parseCount, parseLength, parseLengths } from "./parse.js";

/** Flags that `--resume` takes from the run's own `run.json` and therefore refuses on the command line. */
const TASK_FLAGS = ["len", "policy", "sinks", "window", "cascades", "stride", "rawChunks", "maxFullLength", "flashAttention", "seed", "model"];

type BenchFlags = CommonFlags & { len: string; policy: string; sinks: number; window: number; cascades: number; stride: number; rawChunks: number; maxFullLength?: number; seed: number; resume?: string };

export function benchCommand(): Command {
  const command = new Command("bench")
    .description("prefill speed and memory per policy and length, against the full cache (flash attention on a GPU) and raw llama.cpp evaluation")
    .option("--len <lengths>", "stream lengths in tokens", "32K,64K,128K,256K,512K,1M")
    .option("--policy <list>", "cache policies", "full,sink-window,cascading")
    .option("--sinks <n>", "attention sinks", parseCount("--sinks", 1), 64)
    .option("--window <n>", "tokens kept after the sinks", parseCount("--window", 1), 65536)
    .option("--cascades <n>", "sub-caches of the cascading policy", parseCount("--cascades", 1), 4)
    .option("--stride <n>", "tokens per chunk (one llama.cpp evaluation; the policy runs after each)", parseCount("--stride", 1), 4096)
    .option("--raw-chunks <n>", "steady chunks of the raw llama.cpp baseline at the bounded occupancy (0: none)", parseCount("--raw-chunks", 0), 16)
    .option("--max-full-length <n>", "run the full cache only up to this length (default: every length that fits)", (text: string) => parseLength(text))
    .option("--seed <n>", "seed of the input tokens (ordinary vocabulary tokens drawn at random)", parseCount("--seed", 0), 1)
    .option("--resume <run>", "continue an interrupted bench (folder or run id) without redoing finished measurements");
  commonOptions(command)
    .addHelpText("after", "\nSynthetic models of real shapes: cascade-eval model synth --shape llama-3.1-8b -o llama-3.1-8b.gguf (see model shapes).")
    .action(async (flags: BenchFlags) => {
      const resumed = typeof flags.resume === "string" ? resumeRun<BenchOptions>(command, flags.resume, flags.results, TASK_FLAGS) : undefined;
      const options: BenchOptions = resumed?.options ?? {
        model: flags.model ?? DEFAULT_MODEL,
        lengths: parseLengths(flags.len),
        policies: parsePolicyNames(flags.policy),
        sinks: flags.sinks,
        window: flags.window,
        cascades: flags.cascades,
        stride: flags.stride,
        rawChunks: flags.rawChunks,
        maxFullLength: flags.maxFullLength,
        flashAttention: flashAttentionFlag(flags),
        seed: flags.seed,
      };
      for (const name of options.policies) validatePolicyConfig({ name, sinks: options.sinks, window: options.window, cascades: options.cascades });
      // Lengths within the cache are measured while it fills (VRAM from the start); only evicting nothing at all is an error.
      const longest = Math.max(...options.lengths);
      const bounded = options.policies.some((name) => name !== "full");
      if (bounded && longest <= options.sinks + options.window)
        throw new UsageError(`--len ${longest} does not outgrow the cache of ${options.sinks} + ${options.window} tokens: nothing would be evicted`);
      const filling = options.lengths.filter((length) => length <= options.sinks + options.window);
      if (bounded && filling.length > 0)
        process.stderr.write(`note: --len ${filling.join(", ")} within the cache of ${options.sinks} + ${options.window}: the bounded policies evict nothing yet there\n`);
      const controller = interruptController();
      await runBench(options, runSettings(flags, controller.signal), resumed?.folder);
      if (controller.signal.aborted) process.exitCode = 130;
    });
  return command;
}

/** A saved bench run's tables, rebuilt from its records. */
export function benchRunTables(folder: RunFolder): Table[] {
  const manifest = folder.manifest<{ system: BenchSystem; model: { name: string } }>();
  return benchTables(folder.id, manifest.system, manifest.model.name, folder.records<BenchRecord>());
}
