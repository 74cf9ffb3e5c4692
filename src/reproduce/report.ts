/**
 * The reproduction's report: per preset the paper's table layout with method − baseline deltas (the policies
 * tasks/reproduce.json compares: the paper's cascading against sink-window), figures
 * (passkey heat maps, perplexity curves), every run's own tables, and the checks CI relies on (tables present,
 * numbers where numbers belong, the protocol's guaranteed orderings and equalities).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { formatLength } from "../util/lengths.js";
import { UsageError } from "../errors.js";
import { tablesOfRuns, taskOf } from "../tasks/registry.js";
import { render } from "../printers/index.js";
import type { Cell, Table } from "../printers/table.js";
import { RunFolder } from "../results/run-folder.js";
import type { BooksumRecord } from "../tasks/booksum/summary.js";
import type { PasskeyRecord } from "../tasks/passkey/record.js";
import { perplexityCurves, type Pg19Record } from "../tasks/pg19/summary.js";
import { writeFileAtomic } from "../util/files.js";
import type { CurvePoint, HeatCell } from "./charts.js";
import { findStep, loadReproduceConfig, type PresetName } from "./presets.js";
import type { ReproductionManifest } from "./run.js";

export interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

/** A figure's data: a heat map's cells or a line chart's points. */
interface Figure {
  file: string;
  caption: string;
  cells?: HeatCell[];
  points?: CurvePoint[];
}

interface Section {
  tables: Table[];
  figures: Figure[];
  checks: Check[];
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
/** The policies the report compares (tasks/reproduce.json). */
const { reference: FULL, baseline: BASELINE, method: METHOD, others: OTHERS = [] } = loadReproduceConfig().compare;
const COMPARED = [BASELINE, METHOD, ...OTHERS];

/**
 * A table's numeric columns must hold finite numbers in every row, except the cells `planned` says no run was
 * asked for (the paper's full cache beyond the model's context): those stay empty.
 */
function numbersCheck(table: Table, numericFrom: number, planned: (row: number, column: number) => boolean = () => true): Check {
  const bad = table.rows.flatMap((row, r) =>
    row.slice(numericFrom).flatMap((cell, c) => {
      if (cell === null && !planned(r, numericFrom + c)) return [];
      return typeof cell === "number" && Number.isFinite(cell) ? [] : [`row ${r + 1} column ${table.head[numericFrom + c]}: ${String(cell)}`];
    }),
  );
  return { name: `${table.title}: every cell a number`, passed: table.rows.length > 0 && bad.length === 0, detail: table.rows.length === 0 ? "no rows" : bad.length === 0 ? `${table.rows.length} rows` : bad.slice(0, 3).join("; ") };
}

function passkeySection(steps: readonly { folder: RunFolder; cache: number }[]): Section {
  const all = steps.map(({ folder, cache }) => ({
    cache,
    records: folder.records<PasskeyRecord>(taskOf(folder).recordKey),
    // the lengths the step was asked for (older run folders without them: every length)
    lengths: new Set(folder.manifest<{ options?: { lengths?: number[] } }>().options?.lengths ?? []),
  }));
  // the lengths asked for as well as those run: a planned length without records shows as a hole
  const lengths = [...new Set(all.flatMap(({ records, lengths: planned }) => [...records.map((record) => record.length), ...planned]))].sort((a, b) => a - b);
  const depths = [...new Set(all.flatMap(({ records }) => records.map((record) => record.depthBin)))].sort((a, b) => a - b);
  const accuracy = (records: readonly PasskeyRecord[]) => (records.length === 0 ? null : 100 * mean(records.map((record) => record.score)));
  const rows: Cell[][] = [];
  /** Per row of the table: the lengths its step planned (a Δ row: both policies' step). */
  const rowLengths: ReadonlySet<number>[] = [];
  const cells: HeatCell[] = [];
  const checks: Check[] = [];
  // Every step draws the same haystacks (same seed, same sample ids): the full cache of one serves them all.
  const full = new Map(all.flatMap(({ records }) => records.filter((record) => record.policy.name === FULL).map((record) => [record.sampleId, record.score] as const)));
  for (const { cache, records, lengths: planned } of all) {
    const byPolicy = (name: string) => records.filter((record) => record.policy.name === name);
    for (const name of [FULL, ...COMPARED]) {
      const group = byPolicy(name);
      if (group.length === 0) continue;
      const panel = name === FULL ? "full cache" : `${name} · cache ${formatLength(cache)}`;
      rows.push([name === FULL ? "all" : formatLength(cache), name, ...lengths.map((length) => accuracy(group.filter((record) => record.length === length))), accuracy(group)]);
      rowLengths.push(planned);
      for (const length of lengths)
        for (const depth of depths) {
          const value = accuracy(group.filter((record) => record.length === length && record.depthBin === depth));
          if (value !== null) cells.push({ panel, length: formatLength(length), depth: `≤${depth}`, accuracy: value });
        }
    }
    const window = byPolicy(BASELINE);
    if (window.length > 0) {
      rows.push([formatLength(cache), `Δ ${METHOD} − ${BASELINE}`, ...lengths.map((length) => delta(accuracy(byPolicy(METHOD).filter((r) => r.length === length)), accuracy(window.filter((r) => r.length === length)))), delta(accuracy(byPolicy(METHOD)), accuracy(window))]);
      rowLengths.push(planned);
    }
    // The baseline (sink-window) cache ends with its last `window` tokens: a key before them (and a chunk) has been evicted.
    const outside = window.filter((record) => full.has(record.sampleId) && record.keyPosition < record.promptTokens - record.policy.window - record.policy.stride);
    // only where the full cache read the same haystacks (at paper scale it stops at the model's context)
    if (window.some((record) => full.has(record.sampleId))) {
      const fullScore = accuracy(outside.map((record) => ({ ...record, score: full.get(record.sampleId)! })));
      const windowScore = accuracy(outside);
      checks.push({
        name: `passkey cache ${formatLength(cache)}: ${FULL} ≥ ${BASELINE} where the key left the window`,
        passed: fullScore !== null && windowScore !== null && fullScore >= windowScore,
        detail: `${outside.length} samples: ${FULL} ${fullScore?.toFixed(1)}%, ${BASELINE} ${windowScore?.toFixed(1)}%`,
      });
    }
  }
  const table: Table = { title: "passkey accuracy (%) by length, averaged over depths", head: ["cache", "policy", ...lengths.map(formatLength), "avg"], rows, decimals: [] };
  const seconds = (records: readonly PasskeyRecord[]) => (records.length === 0 ? null : mean(records.map((record) => (record.timings.prefillMs + record.timings.generateMs) / 1000)));
  const time: Table = {
    title: "passkey seconds per key (prefill + answer) by length, averaged over depths",
    head: ["cache", "policy", ...lengths.map(formatLength), "keys", "total s"],
    rows: all.flatMap(({ cache, records }) =>
      [FULL, ...COMPARED].flatMap((name) => {
        const group = records.filter((record) => record.policy.name === name);
        if (group.length === 0) return [];
        const total = group.reduce((sum, record) => sum + (record.timings.prefillMs + record.timings.generateMs) / 1000, 0);
        return [[name === FULL ? "all" : formatLength(cache), name, ...lengths.map((length) => seconds(group.filter((record) => record.length === length))), group.length, total]];
      }),
    ),
    decimals: [],
    notes: ["Keys streamed side by side (--parallel) share the machine, so a key's seconds include the others' contention; the total is the sum over keys, not the wall time."],
  };
  return {
    tables: [table, time],
    figures: [{ file: "passkey-accuracy.svg", caption: "passkey accuracy (%) by length and depth, one panel per policy and cache", cells }],
    // a length column (not the average) of a row whose step was not asked for that length stays empty
    checks: [numbersCheck(table, 2, (row, column) => column - 2 >= lengths.length || rowLengths[row]!.size === 0 || rowLengths[row]!.has(lengths[column - 2]!)), ...checks],
  };
}

function delta(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a - b;
}

/** Pooled perplexity of a policy's books: exp(Σ NLL / Σ scored tokens). */
function pooledPerplexity(records: readonly Pg19Record[]): number | null {
  const predicted = records.reduce((sum, record) => sum + record.predicted, 0);
  return predicted === 0 ? null : Math.exp(records.reduce((sum, record) => sum + record.nll, 0) / predicted);
}

function pg19Section(steps: readonly { folder: RunFolder; cache: number; cascades: number }[]): Section {
  const runs = steps.map((entry) => ({ ...entry, records: entry.folder.records<Pg19Record>(taskOf(entry.folder).recordKey) }));
  const of = (name: string, cache?: number, cascades?: number) =>
    runs.filter((run) => (cache === undefined || run.cache === cache) && (cascades === undefined || run.cascades === cascades)).flatMap((run) => run.records.filter((record) => record.policy.name === name));
  const full = pooledPerplexity(of(FULL));
  const checks: Check[] = [];
  const rows = runs.map(({ cache, cascades }): Cell[] => {
    const window = pooledPerplexity(of(BASELINE, cache));
    const cascading = pooledPerplexity(of(METHOD, cache, cascades));
    return [formatLength(cache), cascades, full, window, cascading, delta(cascading, window)];
  });
  for (const { cache, cascades } of runs.filter((run) => run.cascades === 1)) {
    const window = new Map(of(BASELINE, cache).map((record) => [record.bookId, record.nll]));
    const single = of(METHOD, cache, 1);
    const differing = single.filter((record) => window.get(record.bookId) !== record.nll);
    checks.push({
      name: `pg19 window ${formatLength(cache)}: ${METHOD} with ${cascades} cascade equals ${BASELINE} exactly`,
      passed: single.length > 0 && differing.length === 0 && single.every((record) => window.has(record.bookId)),
      detail: `${single.length} books, ${differing.length} with a different NLL`,
    });
  }
  const points: CurvePoint[] = runs.flatMap(({ cache, cascades, records }) => {
    const { bin, curves } = perplexityCurves(records);
    return curves.flatMap(({ policy, values }) =>
      values.flatMap((value, index) => (value === null ? [] : [{ series: policy === FULL ? FULL : `${policy} · ${formatLength(cache)}${policy === METHOD ? ` × ${cascades}` : ""}`, position: (index + 1) * bin, perplexity: value }])),
    );
  });
  const table: Table = { title: "PG19 perplexity (pooled over books)", head: ["window", "cascades", FULL, BASELINE, METHOD, `Δ ${METHOD} − ${BASELINE}`], rows, decimals: [undefined, 0, 2, 2, 2, 2] };
  return { tables: [table], figures: [{ file: "pg19-perplexity.svg", caption: "PG19 perplexity against position, pooled over books", points }], checks: [numbersCheck(table, 1), ...checks] };
}

function booksumSection(steps: readonly { folder: RunFolder; cascades: number }[]): Section {
  const runs = steps.map((entry) => ({ ...entry, records: entry.folder.records<BooksumRecord>(taskOf(entry.folder).recordKey) }));
  const rouge = (records: readonly BooksumRecord[]) => (["rouge1", "rouge2", "rougeL"] as const).map((key) => (records.length === 0 ? null : 100 * mean(records.map((record) => record.rouge[key].fmeasure))));
  const rows: Cell[][] = runs.flatMap(({ cascades, records }) =>
    [FULL, ...COMPARED].flatMap((name) => {
      const group = records.filter((record) => record.policy.name === name);
      return group.length === 0 ? [] : [[name === METHOD ? `${METHOD} × ${cascades}` : name, group.length, ...rouge(group)]];
    }),
  );
  const checks: Check[] = [];
  const window = new Map(runs.flatMap(({ records }) => records.filter((record) => record.policy.name === BASELINE).map((record) => [record.row, record.summary] as const)));
  for (const { records } of runs.filter((run) => run.cascades === 1)) {
    const single = records.filter((record) => record.policy.name === METHOD);
    const differing = single.filter((record) => window.get(record.row) !== record.summary);
    checks.push({ name: `booksum: ${METHOD} with 1 cascade writes ${BASELINE}'s summaries exactly`, passed: single.length > 0 && differing.length === 0, detail: `${single.length} books, ${differing.length} different` });
  }
  const table: Table = { title: "BookSum ROUGE F (×100)", head: ["policy", "books", "ROUGE-1", "ROUGE-2", "ROUGE-L"], rows, decimals: [undefined, 0, 2, 2, 2] };
  return { tables: [table], figures: [], checks: [numbersCheck(table, 1), ...checks] };
}

function longbenchSection(steps: readonly { folder: RunFolder }[]): Section {
  const [scores] = tablesOfRuns(steps.map(({ folder }) => folder));
  if (scores === undefined) return { tables: [], figures: [], checks: [{ name: "longbench: a score table", passed: false, detail: "no table" }] };
  // The score table: dataset, metric, items (empty on average rows), then one score column per policy.
  const [window, cascading] = [BASELINE, METHOD].map((name) => scores.head.indexOf(name));
  const withDelta: Table =
    window! < 0 || cascading! < 0
      ? scores
      : { ...scores, title: `LongBench scores (×100) with ${METHOD} − ${BASELINE}`, head: [...scores.head, "Δ"], rows: scores.rows.map((row) => [...row, delta(row[cascading!] as number | null, row[window!] as number | null)]), decimals: [...(scores.decimals ?? []), 2] };
  return { tables: [withDelta], figures: [], checks: [numbersCheck(withDelta, 3)] };
}

/**
 * The chart module, loaded only when a report draws (no other command needs Vega, and the GPU machine's copy of
 * the project leaves it out to fit its transfer limit).
 */
async function loadCharts(work: string): Promise<typeof import("./charts.js")> {
  try {
    return await import("./charts.js");
  } catch (error) {
    throw new UsageError(`the report's figures need Vega (${(error as Error).message.split("\n")[0]}); the runs are saved: run cascade-eval reproduce --resume ${work} where npm install has put it`);
  }
}

/** Builds every section, writes report.md and the figures into `work`; returns the checks and the report. */
export async function writeReport(work: string, manifest: ReproductionManifest, sofar = false): Promise<{ checks: Check[]; report: string }> {
  const config = loadReproduceConfig();
  const { scale } = manifest.options;
  const done = manifest.steps
    .filter((step) => (sofar || step.status === "done") && step.run !== undefined && existsSync(join(work, step.run, "run.json")))
    .map((step) => ({ step, folder: RunFolder.open(join(work, step.run!), work), spec: findStep(step.preset, scale, step.id)! }));
  const lines = [`# Reproduction (${scale} scale): ${[...new Set(manifest.steps.map((step) => step.preset))].join(", ")}`, "", `Started ${manifest.createdAt}; model: ${manifest.options.model ?? "the embedded default model"}.`, ""];
  if (manifest.options.samples !== undefined)
    lines.push(`> Fewer samples than the preset: --samples ${manifest.options.samples} (passkey keys per length × depth, LongBench items per dataset, BookSum rows; PG19 unchanged), so the figures are noisier than the paper's.`, "");
  const checks: Check[] = [];
  for (const preset of [...new Set(manifest.steps.map((step) => step.preset))] as PresetName[]) {
    const steps = done.filter(({ step }) => step.preset === preset);
    const missing = manifest.steps.filter((step) => step.preset === preset && step.status !== "done");
    lines.push(`## ${config.presets[preset].title}`, "");
    if (missing.length > 0) {
      checks.push({ name: `${preset}: every step finished`, passed: false, detail: missing.map((step) => step.id).join(", ") });
      lines.push(`Not finished: ${missing.map((step) => step.id).join(", ")}.${sofar && steps.length > 0 ? " The tables hold the records so far (each run's own tables say how many of how many)." : ""}`, "");
      if (!sofar || steps.length === 0) continue;
    }
    const section =
      preset === "passkey"
        ? passkeySection(steps.map(({ folder, spec }) => ({ folder, cache: spec.cache! })))
        : preset === "pg19"
          ? pg19Section(steps.map(({ folder, spec }) => ({ folder, cache: spec.cache!, cascades: spec.cascades! })))
          : preset === "booksum"
            ? booksumSection(steps.map(({ folder, spec }) => ({ folder, cascades: spec.cascades! })))
            : longbenchSection(steps);
    if (preset === "booksum" && scale === "ci") lines.push(`> ${config.presets.booksum.ciStandIn.note}`, "");
    lines.push(render(section.tables, "markdown"));
    for (const figure of section.figures) {
      const { accuracyHeatMap, perplexityCurves: curvesSvg } = await loadCharts(work);
      const svg = figure.cells
        ? await accuracyHeatMap(figure.caption, figure.cells, [...new Set(figure.cells.map((cell) => cell.length))], [...new Set(figure.cells.map((cell) => cell.depth))])
        : await curvesSvg(figure.caption, figure.points ?? []);
      writeFileAtomic(join(work, figure.file), svg);
      lines.push(`![${figure.caption}](${figure.file})`, "");
    }
    lines.push(`### Runs`, "", ...steps.map(({ step, folder }) => `- ${step.id}: \`cascade-eval ${step.args.join(" ")}\` → ${folder.path}`), "");
    lines.push(render(tablesOfRuns(steps.map(({ folder }) => folder)), "markdown"));
    checks.push(...section.checks);
  }
  lines.push("## Checks", "", render([{ title: "checks", head: ["check", "result", "detail"], rows: checks.map((check) => [check.name, check.passed ? "pass" : "FAIL", check.detail]) }], "markdown"));
  const report = `${lines.join("\n")}\n`;
  writeFileAtomic(join(work, "report.md"), report);
  return { checks, report };
}
