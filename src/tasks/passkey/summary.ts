import { formatLength } from "../../util/lengths.js";
import type { Cell, Table } from "../../printers/table.js";
import { describePolicy, groupByPolicy, isBounded } from "../../policies/registry.js";
import type { PasskeyRecord } from "./record.js";

interface RunRecords {
  runId: string;
  records: readonly PasskeyRecord[];
}

const mean = (values: readonly number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
const percent = (value: number | null): number | null => (value === null ? null : 100 * value);
const sortedUnique = (values: readonly number[]) => [...new Set(values)].sort((a, b) => a - b);

/**
 * Passkey accuracy (%) per policy: rows are lengths, columns depth bins and their average. With several runs,
 * one table per run and policy, then one overview table comparing them by length.
 */
export function passkeyTables(runs: readonly RunRecords[]): Table[] {
  const tables: Table[] = [];
  const overview: Cell[][] = [];
  const allLengths = sortedUnique(runs.flatMap((run) => run.records.map((record) => record.length)));
  for (const run of runs) {
    const depths = sortedUnique(run.records.map((record) => record.depthBin));
    for (const { label: name, records } of groupByPolicy(run.records)) {
      const lengths = sortedUnique(records.map((record) => record.length));
      const rows = lengths.map((length) => {
        const atLength = records.filter((record) => record.length === length);
        const cells = depths.map((depth) => percent(mean(atLength.filter((r) => r.depthBin === depth).map((r) => r.score))));
        return [formatLength(length), describePolicy(atLength[0]!.policy), ...cells, percent(mean(atLength.map((r) => r.score))), atLength.length];
      });
      const prefix = runs.length > 1 ? `${run.runId}: ` : "";
      tables.push({
        title: `${prefix}passkey accuracy (%) — ${name}`,
        head: ["length", "cache", ...depths.map((depth) => `d≤${depth}`), "avg", "n"],
        rows,
      });
      overview.push([
        ...(runs.length > 1 ? [run.runId] : []),
        name,
        ...allLengths.map((length) => percent(mean(records.filter((r) => r.length === length).map((r) => r.score)))),
        percent(mean(records.map((r) => r.score))),
      ]);
    }
  }
  if (runs.length > 1 || overview.length > 1)
    tables.push({
      title: "passkey accuracy (%) by length",
      head: [...(runs.length > 1 ? ["run"] : []), "policy", ...allLengths.map(formatLength), "avg"],
      rows: overview,
    });
  return [...tables, ...retentionTables(runs)];
}

/** How much of the key block the cache held when the question was read: all of it, part, or none. */
export type Retention = "all" | "part" | "none";

export function retentionOf(record: PasskeyRecord): Retention | undefined {
  if (record.keyTokens === undefined || record.keyRetained === undefined) return undefined;
  if (record.keyRetained.length === record.keyTokens) return "all";
  return record.keyRetained.length === 0 ? "none" : "part";
}

const RETENTIONS: readonly Retention[] = ["all", "part", "none"];

/**
 * Per bounded policy: the share of samples whose key block the cache still held whole (per length × depth bin),
 * and the accuracy apart for samples that kept all, part or none of it: what the policy kept against what the
 * model read from it. Runs recorded before retention was measured have no such table.
 */
function retentionTables(runs: readonly RunRecords[]): Table[] {
  const tables: Table[] = [];
  for (const run of runs) {
    const depths = sortedUnique(run.records.map((record) => record.depthBin));
    for (const group of groupByPolicy(run.records)) {
      if (!isBounded(group.name)) continue;
      const name = group.label;
      const records = group.records.filter((record) => retentionOf(record) !== undefined);
      if (records.length === 0) continue;
      const rows = sortedUnique(records.map((record) => record.length)).map((length) => {
        const atLength = records.filter((record) => record.length === length);
        const keptShare = (subset: readonly PasskeyRecord[]) => percent(mean(subset.map((r) => (retentionOf(r) === "all" ? 1 : 0))));
        const byRetention = RETENTIONS.flatMap((retention): Cell[] => {
          const subset = atLength.filter((r) => retentionOf(r) === retention);
          return [subset.length, percent(mean(subset.map((r) => r.score)))];
        });
        return [formatLength(length), ...depths.map((depth) => keptShare(atLength.filter((r) => r.depthBin === depth))), keptShare(atLength), ...byRetention];
      });
      tables.push({
        title: `${runs.length > 1 ? `${run.runId}: ` : ""}passkey key retention — ${name}`,
        head: ["length", ...depths.map((depth) => `kept d≤${depth}`), "kept avg", "n all", "acc all", "n part", "acc part", "n none", "acc none"],
        rows,
        notes: ["kept: % of samples whose whole key block was in the cache when the prompt had been read; n / acc: samples that kept all, part or none of it, and their accuracy (%)"],
      });
    }
  }
  return tables;
}
