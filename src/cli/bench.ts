import { Command } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { benchTask, type BenchOptions } from "../tasks/bench/run.js";
import { BENCH_MAX_LENGTH, parseLength, parseLengths } from "../util/lengths.js";
import { flashAttentionFlag } from "./common.js";
import { parseCount } from "./parse.js";
import { policyOptions, policyValues } from "./policy-flags.js";
import { taskCommand } from "./task-command.js";

export function benchCommand(): Command {
  const command = new Command("bench")
    .description("prefill speed and memory per policy and length, against the full cache (flash attention on a GPU) and raw llama.cpp evaluation")
    .option("--len <lengths>", "stream lengths in tokens", "32K,64K,128K,256K,512K,1M");
  policyOptions(command, { policies: "full,sink-window,cascading", policiesHelp: "each one stream per length", values: { sinks: 64, window: 65536, cascades: 4 } })
    .option("--stride <n>", "tokens per chunk (one llama.cpp evaluation; the policy runs after each)", parseCount("--stride", 1), 4096)
    .option("--raw-chunks <n>", "steady chunks of the raw llama.cpp baseline at the bounded occupancy (0: none)", parseCount("--raw-chunks", 0), 16)
    .option("--max-full-length <n>", "run the full cache only up to this length (default: every length that fits)", (text: string) => parseLength(text, BENCH_MAX_LENGTH))
    .option("--seed <n>", "seed of the input tokens (ordinary vocabulary tokens drawn at random)", parseCount("--seed", 0), 1)
    .addHelpText("after", "\nSynthetic models of real shapes: cascade-eval model synth --shape llama-3.1-8b -o llama-3.1-8b.gguf (see model shapes).");
  return taskCommand(
    benchTask,
    command,
    (flags): BenchOptions => {
      const policy = policyValues(flags);
      return {
        ...policy,
        model: flags.model ?? DEFAULT_MODEL,
        lengths: parseLengths(String(flags.len), BENCH_MAX_LENGTH),
        policies: policy.policies,
        sinks: policy.sinks!,
        window: policy.window!,
        cascades: policy.cascades!,
        stride: flags.stride as number,
        rawChunks: flags.rawChunks as number,
        maxFullLength: flags.maxFullLength as number | undefined,
        flashAttention: flashAttentionFlag(flags),
        seed: flags.seed as number,
      };
    },
    { alsoOptions: ["flashAttention"], shards: false },
  );
}
