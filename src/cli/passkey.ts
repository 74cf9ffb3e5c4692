import { Command, Option } from "commander";
import { DEFAULT_MODEL } from "../config.js";
import { loadPasskeyConfig } from "../tasks/passkey/config.js";
import { FILLERS, type Filler } from "../tasks/passkey/haystack.js";
import { passkeyTask, type PasskeyOptions } from "../tasks/passkey/run.js";
import { parseLengths } from "../util/lengths.js";
import { parseChoice, parseCount, parseDepths } from "./parse.js";
import { budgetOption, budgetValues, policyOptions, policyValues } from "./policy-flags.js";
import { taskCommand } from "./task-command.js";

export function passkeyCommand(): Command {
  const defaults = loadPasskeyConfig().defaults;
  const command = new Command("passkey")
    .description("passkey retrieval: a 5-digit key hidden in a long haystack, answered greedily under each cache policy")
    .option("--len <lengths>", "prompt lengths in tokens, e.g. 4K,32K,1M", "4K")
    .option("--depths <list>", "depth bins d (key drawn in [d-0.2, d])", "0.2,0.4,0.6,0.8,1.0")
    .option("--samples <n>", "keys per length × depth", parseCount("--samples", 1, 10_000), defaults.samples)
    .option("--seed <n>", "seed of keys, depths and haystacks", parseCount("--seed", 0), 1);
  policyOptions(command, {
    policies: "full,sink-window,cascading",
    policiesHelp: "run side by side on identical samples",
    values: { cascades: defaults.cascades },
    help: { sinks: `attention sinks (default ${defaults.sinks})`, window: `tokens kept after the sinks (default: min(${defaults.window}, 2^floor(log2(len/4))))` },
  })
    .option("--stride <n>", `prefill chunk size (default: min(${defaults.stride}, window/2))`, parseCount("--stride", 1))
    .addOption(new Option("--filler <kind>", "haystack: dictionary words or llama.cpp's grass sentences").default("words").argParser(parseChoice("--filler", FILLERS)))
    .option("--parallel <n>", "samples streamed at once, each in its own context (memory permitting; a resume may change it); without --threads the cores are shared out among them", parseCount("--parallel", 1, 64), 1);
  budgetOption(command, "the prompt");
  return taskCommand(passkeyTask, command, (flags): PasskeyOptions => {
    const policy = policyValues(flags);
    const budgets = budgetValues(flags);
    return {
      // every parameter of every policy, so that a policy's own (e.g. --eviction-seed) reaches its config
      ...policy,
      lengths: parseLengths(String(flags.len)),
      depths: parseDepths(String(flags.depths)),
      samples: flags.samples as number,
      seed: flags.seed as number,
      policies: policy.policies,
      sinks: policy.sinks,
      window: policy.window,
      stride: flags.stride as number | undefined,
      cascades: policy.cascades!,
      filler: flags.filler as Filler,
      parallel: flags.parallel as number,
      ...(budgets === undefined ? {} : { budgets }),
      model: flags.model ?? DEFAULT_MODEL,
    };
  });
}
