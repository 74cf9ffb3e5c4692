/**
 * Sharding a run over N processes (a Slurm job array, a Kubernetes Indexed Job): every shard plans all units, then
 * keeps only its own; `cascade-eval merge` joins the shards' run folders into one run.
 */
import { UsageError } from "../errors.js";

/** Shard `index` of `count`, 1-based: shards 1/3, 2/3 and 3/3 make a whole run. */
export interface Shard {
  index: number;
  count: number;
}

/** What a shard's run.json records: its shard and its units (keys and places in the whole run's plan). */
export interface ShardManifest extends Shard {
  /** The shard's unit keys, in plan order. */
  units: string[];
  /** Each of those units' position in the whole plan, so that a merge restores a single run's order. */
  positions: number[];
}

export const shardLabel = (shard: Shard) => `${shard.index}/${shard.count}`;

/**
 * `--shard K/N` (K from 1 to N) or `auto/N`, where K comes from the job array: SLURM_ARRAY_TASK_ID as it is (so
 * `--array=1-N`), else Kubernetes' JOB_COMPLETION_INDEX plus one (Kubernetes counts from 0).
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const match = /^(\d+|auto)\/(\d+)$/.exec(text.trim());
  if (!match) throw new UsageError(`--shard must be K/N or auto/N (K from 1 to N), got '${text}'`);
  const count = Number(match[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new UsageError(`--shard ${text}: N must be a whole number >= 1`);
  if (match[1] !== "auto") return checked(Number(match[1]), count, `--shard ${text}`);
  const slurm = env.SLURM_ARRAY_TASK_ID;
  const kubernetes = env.JOB_COMPLETION_INDEX;
  if (slurm !== undefined && slurm !== "") return checked(wholeNumber(slurm, "SLURM_ARRAY_TASK_ID"), count, `SLURM_ARRAY_TASK_ID=${slurm} (submit with --array=1-${count})`);
  if (kubernetes !== undefined && kubernetes !== "") return checked(wholeNumber(kubernetes, "JOB_COMPLETION_INDEX") + 1, count, `JOB_COMPLETION_INDEX=${kubernetes} (completions: ${count})`);
  throw new UsageError(`--shard auto/${count} takes the shard from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, and neither is set; give --shard K/${count}`);
}

function wholeNumber(text: string, name: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`--shard auto: ${name} must be a whole number, got '${text}'`);
  return Number(text);
}

function checked(index: number, count: number, source: string): Shard {
  if (index < 1 || index > count) throw new UsageError(`${source} is out of range: shards are 1 to ${count}`);
  return { index, count };
}

/**
 * The shard (0-based) of each unit, so that shards get about equal work: longest first, each to the least-loaded
 * shard (the lowest-numbered on a tie). Deterministic: every shard computes the same assignment from the same plan.
 */
export function assignShards(costs: readonly number[], count: number): number[] {
  const order = costs.map((_, position) => position).sort((a, b) => costs[b]! - costs[a]! || a - b);
  const loads = new Array<number>(count).fill(0);
  const assigned = new Array<number>(costs.length);
  for (const position of order) {
    let least = 0;
    for (let shard = 1; shard < count; shard++) if (loads[shard]! < loads[least]!) least = shard;
    loads[least]! += costs[position]!;
    assigned[position] = least;
  }
  return assigned;
}

/** The positions in the plan of shard's units, in plan order. */
export function shardPositions(costs: readonly number[], shard: Shard): number[] {
  const assigned = assignShards(costs, shard.count);
  return assigned.flatMap((each, position) => (each === shard.index - 1 ? [position] : []));
}
