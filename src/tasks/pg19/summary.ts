import type { PolicyName } from "../../policies/policy.js";
import type { Cell, Table } from "../../printers/table.js";
import { describePolicy, groupByPolicy } from "../../policies/registry.js";
import type { PolicyRecord } from "../../policies/policy.js";

/** One line of `samples.jsonl`: one book under one policy, with the sums every table and curve is rebuilt from. */
export interface Pg19Record {
  task: "pg19";
  runId: string;
  bookId: string;
  title: string;
  chunking: "stream" | "llama-perplexity";
  policy: PolicyRecord;
  model: { source: string; path: string; sha256: string; name: string };
  /** Tokens of the book streamed (BOS included, after --max-tokens). */
  tokens: number;
  /** Tokens whose log-probability was scored, and the sum of their negative log-likelihoods (nats). */
  predicted: number;
  nll: number;
  /** Per bin of `curve.bin` positions from the book's start: NLL sums and scored-token counts. */
  curve: { bin: number; nll: number[]; count: number[] };
  timings: { totalMs: number; evaluateMs: number; policyMs: number; eraseMs: number };
  tokensPerSecond: number;
  hardware: { gpu: string | false; threads: number };
  finishedAt: string;
}

interface RunRecords {
  runId: string;
  records: readonly Pg19Record[];
  /** Books left out (shorter than the cache), as `id (tokens)`. */
  skipped?: readonly string[];
}

const perplexity = (nll: number, count: number): number | null => (count > 0 ? Math.exp(nll / count) : null);
const round2 = (value: number | null): number | null => (value === null ? null : Math.round(value * 100) / 100);

/** The records per policy (and per --budget where the run has budgets), named as the tables name them. */
function byPolicy(records: readonly Pg19Record[]): [string, Pg19Record[]][] {
  return groupByPolicy(records).map(({ label, records: group }) => [label, group]);
}

/** A group's cache: the policy as it ran, or for a share budget (a window per book) the budget itself. */
function describeGroup(record: Pg19Record): string {
  const budget = record.policy.budget as string | undefined;
  return budget?.endsWith("%") ? `budget ${budget} of each book incl. ${record.policy.sinks} sinks, stride ${record.policy.stride}` : describePolicy(record.policy);
}

/** Overall perplexity per policy (exp of total NLL over total scored tokens), and one column per book. */
export function pg19Tables(runs: readonly RunRecords[]): Table[] {
  const tables: Table[] = [];
  for (const run of runs) {
    const prefix = runs.length > 1 ? `${run.runId}: ` : "";
    const groups = byPolicy(run.records);
    const baseline = groups[0]?.[1];
    const baselinePpl = baseline ? perplexity(sum(baseline, "nll"), sum(baseline, "predicted")) : null;
    const chunking = run.records[0]?.chunking ?? "stream";
    tables.push({
      title: `${prefix}PG19 perplexity${chunking === "llama-perplexity" ? " (llama-perplexity chunking)" : ""}`,
      head: ["policy", "cache", "books", "tokens", "perplexity", `vs ${groups[0]?.[0] ?? "first"} (%)`],
      rows: groups.map(([label, group]) => {
        const ppl = perplexity(sum(group, "nll"), sum(group, "predicted"));
        const relative = ppl !== null && baselinePpl !== null ? round2(100 * (ppl / baselinePpl - 1)) : null;
        return [label, describeGroup(group[0]!), group.length, sum(group, "predicted"), round2(ppl), relative];
      }),
      notes: run.skipped && run.skipped.length > 0 ? [`skipped (shorter than the cache): ${run.skipped.join(", ")}`] : undefined,
      decimals: [undefined, undefined, undefined, undefined, 2, 2],
    });
    const books = [...new Set(run.records.map((record) => record.bookId))];
    if (books.length > 1 && books.length <= 20) {
      tables.push({
        title: `${prefix}PG19 perplexity per book`,
        head: ["book", "tokens", ...groups.map(([name]) => name)],
        decimals: [undefined, undefined, ...groups.map(() => 2)],
        rows: books.map((book): Cell[] => {
          const ofBook = run.records.filter((record) => record.bookId === book);
          return [`${book} ${ofBook[0]!.title}`.slice(0, 48), ofBook[0]!.predicted, ...groups.map(([name]) => {
            const record = groups.find(([label]) => label === name)![1].find((r) => r.bookId === book);
            return record ? round2(perplexity(record.nll, record.predicted)) : null;
          })];
        }),
      });
    }
  }
  return tables;
}

function sum(records: readonly Pg19Record[], key: "nll" | "predicted"): number {
  return records.reduce((total, record) => total + record[key], 0);
}

/** Perplexity per position bin for each policy, over all books (bins with no scored token are null). */
export function perplexityCurves(records: readonly Pg19Record[]): { bin: number; curves: { policy: PolicyName; values: (number | null)[] }[] } {
  const bin = records[0]?.curve.bin ?? 1;
  const bins = Math.max(0, ...records.map((record) => record.curve.count.length));
  const curves = byPolicy(records).map(([policy, group]) => ({
    policy,
    values: Array.from({ length: bins }, (_, index) => {
      let nll = 0;
      let count = 0;
      for (const record of group) {
        nll += record.curve.nll[index] ?? 0;
        count += record.curve.count[index] ?? 0;
      }
      return perplexity(nll, count);
    }),
  }));
  return { bin, curves };
}

const SPARKS = "▁▂▃▄▅▆▇█";

/** One line per policy: the curve resampled to `width` characters, on a log scale shared by all policies. */
export function sparklines(records: readonly Pg19Record[], width = 48): string[] {
  const { bin, curves } = perplexityCurves(records);
  const all = curves.flatMap((curve) => curve.values).filter((value): value is number => value !== null);
  if (all.length === 0) return [];
  const [low, high] = [Math.log(Math.min(...all)), Math.log(Math.max(...all))];
  const nameWidth = Math.max(...curves.map((curve) => curve.policy.length));
  const lines = curves.map(({ policy, values }) => {
    const step = Math.max(1, values.length / width);
    let line = "";
    for (let start = 0; start < values.length; start += step) {
      const window = values.slice(Math.floor(start), Math.floor(start + step)).filter((value): value is number => value !== null);
      if (window.length === 0) {
        line += " ";
        continue;
      }
      const level = high > low ? (Math.log(window.reduce((a, b) => a + b, 0) / window.length) - low) / (high - low) : 0;
      line += SPARKS[Math.min(SPARKS.length - 1, Math.round(level * (SPARKS.length - 1)))];
    }
    return `${policy.padEnd(nameWidth)}  ${line}`;
  });
  const bins = Math.max(...curves.map((curve) => curve.values.length));
  return [`perplexity by position (0 to ${bins * bin} tokens, log scale ${Math.exp(low).toFixed(1)} to ${Math.exp(high).toFixed(1)})`, ...lines];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
/** Later curves are dashed so that a curve drawn over an identical one leaves it visible. */
const DASHES = ["", "8 4", "2 3", "12 3 2 3", "4 4"];

/** A self-contained SVG line chart of the curves: position (tokens) across, perplexity (log scale) up. */
export function curveSvg(records: readonly Pg19Record[], title: string, subtitle: string): string {
  const { bin, curves } = perplexityCurves(records);
  const [width, height, left, right, top, bottom] = [720, 380, 64, 150, 56, 44];
  const all = curves.flatMap((curve) => curve.values).filter((value): value is number => value !== null);
  const bins = Math.max(1, ...curves.map((curve) => curve.values.length));
  const low = Math.log(Math.min(...all, 1e9));
  const high = Math.max(Math.log(Math.max(...all, 1e-9)), low + 1e-6);
  const x = (index: number) => left + ((index + 0.5) / bins) * (width - left - right);
  const y = (value: number) => top + (1 - (Math.log(value) - low) / (high - low)) * (height - top - bottom);
  const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="15">${escape(title)}</text>`,
    `<text x="${left}" y="38" font-size="11" fill="#555">${escape(subtitle)}</text>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="black"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 10}" text-anchor="middle">position in the book (tokens, bins of ${bin})</text>`,
    `<text x="14" y="${(top + height - bottom) / 2}" transform="rotate(-90 14 ${(top + height - bottom) / 2})" text-anchor="middle">perplexity (log scale)</text>`,
  ];
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const value = Math.exp(low + fraction * (high - low));
    parts.push(`<text x="${left - 6}" y="${y(value) + 4}" text-anchor="end">${value.toFixed(1)}</text>`);
    const index = Math.round(fraction * (bins - 1));
    parts.push(`<text x="${x(index)}" y="${height - bottom + 16}" text-anchor="middle">${(index + 1) * bin}</text>`);
  }
  curves.forEach(({ policy, values }, index) => {
    const style = `stroke="${COLORS[index % COLORS.length]!}" stroke-width="1.5"${DASHES[index % DASHES.length] ? ` stroke-dasharray="${DASHES[index % DASHES.length]!}"` : ""}`;
    const points = values.flatMap((value, i) => (value === null ? [] : [`${x(i).toFixed(1)},${y(value).toFixed(1)}`]));
    parts.push(`<polyline fill="none" ${style} points="${points.join(" ")}"/>`);
    const legendY = top + 18 * index + 4;
    parts.push(`<line x1="${width - right + 10}" y1="${legendY}" x2="${width - right + 38}" y2="${legendY}" ${style}/>`);
    parts.push(`<text x="${width - right + 44}" y="${legendY + 4}" fill="${COLORS[index % COLORS.length]!}">${escape(policy)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
