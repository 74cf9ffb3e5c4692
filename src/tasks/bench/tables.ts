/** The records of `cascade-eval bench` and the tables rebuilt from them. */
import { DECODE_PHASES, type EvictionPath } from "../../engine/extension-runtime.js";
import type { BuildInfo } from "../../engine/engine-info.js";
import { isBounded, POLICY_NAMES } from "../../policies/registry.js";
import type { PolicyConfig } from "../../policies/policy.js";
import type { Cell, Table } from "../../printers/table.js";
import { formatLength } from "../../util/lengths.js";
import type { MachineInfo } from "./system.js";

/** Time and tokens summed over a set of chunks. */
export interface ChunkTotals {
  chunks: number;
  tokens: number;
  wallMs: number;
  /** llama.cpp decode of the chunk; after an eviction it includes the deferred re-rotation of the shifted keys. */
  evaluateMs: number;
  policyMs: number;
  /**
   * Eviction outside llama.cpp's decode (batched, or `eraseContextTokenRanges`): removing the cells and shifting the
   * positions of the kept ones; with the eviction inside the decode, only queuing it and updating node-llama-cpp's record.
   */
  eraseMs: number;
  /** The eviction llama.cpp applied at the end of each decode while the GPU computed (eviction-in-decode); inside evaluateMs. Absent before it existed. */
  evictInDecodeMs?: number;
  /** Inside evaluateMs: milliseconds per phase of llama.cpp's decode (DECODE_PHASES; decode-timings extension). */
  decodePhasesMs?: number[];
}

export interface BenchRecord extends Partial<ChunkTotals> {
  /** `raw`: llama.cpp evaluation at the bounded caches' occupancy with no policy (each chunk drops itself). */
  kind: "raw" | "stream";
  policy: PolicyConfig;
  /** Tokens fed (raw: the fill plus the steady chunks). */
  length: number;
  stride: number;
  contextCells: number;
  status: "measured" | "does not fit" | "not run";
  reason?: string;
  /** Chunks that started with the cache at sinks + window (absent for the full cache). */
  steady?: ChunkTotals | null;
  evicted?: number;
  memory?: { vramBeforeBytes: number | null; vramPeakBytes: number | null; hostRssPeakBytes: number };
  finishedAt: string;
}

export interface BenchSystem {
  machine: MachineInfo;
  build: BuildInfo;
  shape: Record<string, number | string>;
  batchSize: number;
  flashAttention: boolean;
  /** Absent in runs recorded before the extensions existed: those used the stock path. */
  eviction?: EvictionPath;
  /** Whether llama.cpp measured attention for `cascading` (absent in runs recorded before the extension existed: no). */
  attentionScores?: boolean;
  /** Measured without materializing the attention weights (attention-scores v2); absent in records from before it. */
  attentionScoresFused?: boolean;
  /** Whether the records time the phases of llama.cpp's decode (the decode-timings extension). */
  decodeTimings?: boolean;
  /** Whether llama.cpp took the host-fast-path extension's code (absent before it existed: no). */
  hostFastPath?: boolean;
}

const EVICTION_ROWS: Record<EvictionPath, string> = {
  "in-decode": "batched, inside the decode while the GPU computes (cascade-eval extensions)",
  batched: "batched (cascade-eval extension)",
  stock: "stock (eraseContextTokenRanges)",
};

const GIB = 2 ** 30;
const perSecond = (tokens: number, ms: number) => (ms > 0 ? (tokens * 1000) / ms : null);
const perChunk = (totals: ChunkTotals, key: Exclude<keyof ChunkTotals, "decodePhasesMs">) => (totals[key] ?? 0) / totals.chunks;
/** Cache maintenance in ms: all of it, and the part outside llama.cpp's decode (what the host does while the GPU idles). */
const maintenanceMs = (totals: Partial<ChunkTotals>) => {
  const blocking = totals.policyMs! + totals.eraseMs!;
  return { all: blocking + (totals.evictInDecodeMs ?? 0), blocking };
};
const gib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? null : bytes / GIB);
const tokensLabel = formatLength;
const policyOrder = (record: BenchRecord) => POLICY_NAMES.indexOf(record.policy.name);

function systemTable(system: BenchSystem, modelName: string): Table {
  const { machine, build, shape } = system;
  const rows: Cell[][] = [
    ["GPU", build.gpuDevices.join(", ") || "none (CPU)"],
    ["VRAM total GiB", gib(build.vramTotalBytes)],
    ["NVIDIA driver / CUDA", machine.nvidiaDriver ? `${machine.nvidiaDriver} / ${machine.cudaVersion ?? "?"}` : "–"],
    ["CPU", `${machine.cpu} × ${machine.cpuCores}`],
    ["host memory GiB", gib(machine.hostMemoryBytes)],
    ["model", modelName],
    ["shape", `${shape.architecture}: ${shape.layers} layers, width ${shape.embedding}, ${shape.heads} heads / ${shape.kvHeads} KV, ffn ${shape.feedForward}, vocab ${shape.vocabulary}, file type ${shape.fileType}`],
    ["KV cache types", `K ${build.kvCacheTypes.key}, V ${build.kvCacheTypes.value}`],
    ["flash attention", system.flashAttention ? "on" : "off"],
    ["batch size", system.batchSize],
    ["cache eviction", EVICTION_ROWS[system.eviction ?? "stock"]],
    [
      "attention scores",
      system.attentionScores === true
        ? `measured for cascading (cascade-eval extension)${system.attentionScoresFused === true ? " without materializing the weights" : system.attentionScoresFused === false ? " from materialized weights" : ""}`
        : "none (cascading runs strided)",
    ],
    ["decode phases", system.decodeTimings === true ? "timed (cascade-eval extension decode-timings)" : "not timed"],
    ["llama.cpp host code", system.hostFastPath === true ? "fast path (cascade-eval extension host-fast-path)" : "stock"],
    ["llama.cpp", `${build.llamaCpp.repo} ${build.llamaCpp.release} (${build.binaries} binaries)`],
    ["node-llama-cpp", build.nodeLlamaCppVersion],
    ["cascade-eval", `${machine.cascadeEval.version}${machine.cascadeEval.commit ? ` (${machine.cascadeEval.commit})` : ""}`],
  ];
  return { title: "system", head: ["what", "value"], rows, decimals: [undefined, 1] };
}

/**
 * How the full cache's time grows, from its two longest measured lengths: a power law through them, and the
 * prefill's own form through them, t = a·n + b·n² (weights cost per token, attention per token and cached token),
 * where both terms come out non-negative. Either serves to extrapolate beyond the longest length that fits.
 */
export function fullScaling(full: readonly BenchRecord[]) {
  const measured = full.filter((record) => record.status === "measured").sort((a, b) => a.length - b.length);
  if (measured.length < 2) return undefined;
  const [from, to] = measured.slice(-2) as [BenchRecord, BenchRecord];
  const exponent = Math.log(to.wallMs! / from.wallMs!) / Math.log(to.length / from.length);
  const quadratic = (to.wallMs! / to.length - from.wallMs! / from.length) / (to.length - from.length);
  const linear = from.wallMs! / from.length - quadratic * from.length;
  const twoTerm = quadratic > 0 && linear >= 0 ? (length: number) => linear * length + quadratic * length ** 2 : undefined;
  return { exponent, from, to, powerLaw: (length: number) => to.wallMs! * (length / to.length) ** exponent, twoTerm };
}

export function benchTables(runId: string, system: BenchSystem, modelName: string, records: readonly BenchRecord[]): Table[] {
  const streams = records.filter((record) => record.kind === "stream").sort((a, b) => a.length - b.length || policyOrder(a) - policyOrder(b));
  const raw = records.find((record) => record.kind === "raw" && record.status === "measured");
  const rawRate = raw?.steady ? perSecond(raw.steady.tokens, raw.steady.evaluateMs) : null;
  const rawEvaluatePerChunk = raw?.steady ? perChunk(raw.steady, "evaluateMs") : null;
  const full = streams.filter((record) => !isBounded(record.policy.name));
  const fullAt = new Map(full.filter((record) => record.status === "measured").map((record) => [record.length, record.wallMs!]));
  const scaling = fullScaling(full);
  const notes: string[] = [];

  const prefillRows = streams.map((record): Cell[] => {
    const cache = !isBounded(record.policy.name) ? "all" : `${record.policy.sinks}+${record.policy.window}`;
    if (record.status !== "measured") return [tokensLabel(record.length), record.policy.name, cache, record.status, null, null, null, null, null, null];
    const speedup = isBounded(record.policy.name) && fullAt.has(record.length) ? fullAt.get(record.length)! / record.wallMs! : null;
    const maintenance = maintenanceMs(record);
    const share = (ms: number) => (100 * ms) / record.wallMs!;
    return [tokensLabel(record.length), record.policy.name, cache, record.wallMs! / 1000, perSecond(record.length, record.wallMs!), speedup, share(maintenance.all), share(maintenance.blocking), gib(record.memory?.vramPeakBytes), gib(record.memory?.hostRssPeakBytes)];
  });
  for (const record of streams.filter((each) => each.status !== "measured" && !isBounded(each.policy.name)).slice(0, 1))
    notes.push(`full cache from ${tokensLabel(record.length)} on: ${record.status} (${record.reason})`);
  if (scaling) {
    const { exponent, from, to, powerLaw, twoTerm } = scaling;
    const between = `${tokensLabel(from.length)} and ${tokensLabel(to.length)}`;
    notes.push(`full cache time grows as length^${exponent.toFixed(2)} between ${between} (measured)`);
    for (const record of streams.filter((each) => isBounded(each.policy.name) && each.status === "measured" && !fullAt.has(each.length) && each.length > to.length)) {
      const estimates = [powerLaw(record.length), ...(twoTerm ? [twoTerm(record.length)] : [])].sort((a, b) => a - b);
      const seconds = estimates.map((ms) => (ms / 1000).toFixed(0)).join("–");
      const speedups = estimates.map((ms) => (ms / record.wallMs!).toFixed(1)).join("–");
      const how = twoTerm ? `length^${exponent.toFixed(2)}, and a·n + b·n² through ${between}` : "that scaling";
      notes.push(`EXTRAPOLATED, not measured: full cache at ${tokensLabel(record.length)} ≈ ${seconds} s (${how}) → ${record.policy.name} ≈ ${speedups}× faster`);
    }
  }
  for (const name of POLICY_NAMES.filter(isBounded)) {
    const peaks = streams.filter((record) => record.policy.name === name && record.memory?.vramPeakBytes != null).map((record) => record.memory!.vramPeakBytes!);
    if (peaks.length > 1)
      notes.push(`${name}: peak VRAM ${(Math.min(...peaks) / GIB).toFixed(2)}–${(Math.max(...peaks) / GIB).toFixed(2)} GiB over ${peaks.length} lengths (spread ${((Math.max(...peaks) - Math.min(...peaks)) / 2 ** 20).toFixed(0)} MiB)`);
  }

  // the attention scores' cost per steady chunk: the scored cascade's evaluation less the strided cascade's at the
  // same length (the same cache and chunks; the two differ only in the scores and in where their eviction runs)
  const stridedEvaluate = new Map(
    streams.filter((record) => record.policy.name === "cascading-strided" && record.status === "measured" && record.steady).map((record) => [record.length, perChunk(record.steady!, "evaluateMs")]),
  );
  const steadyRows = streams
    .filter((record) => record.status === "measured" && record.steady)
    .map((record): Cell[] => {
      const steady = record.steady!;
      const rate = perSecond(steady.tokens, steady.wallMs);
      const maintenance = maintenanceMs(steady);
      const strided = record.policy.name === "cascading" && system.attentionScores ? stridedEvaluate.get(record.length) : undefined;
      const scoresMs = strided === undefined ? null : perChunk(steady, "evaluateMs") - strided;
      return [
        tokensLabel(record.length),
        record.policy.name,
        steady.chunks,
        perChunk(steady, "wallMs"),
        perChunk(steady, "evaluateMs"),
        rawEvaluatePerChunk === null ? null : perChunk(steady, "evaluateMs") - rawEvaluatePerChunk,
        perChunk(steady, "policyMs"),
        perChunk(steady, "eraseMs"),
        perChunk(steady, "evictInDecodeMs"),
        (100 * maintenance.all) / steady.wallMs,
        (100 * maintenance.blocking) / steady.wallMs,
        rate,
        rate !== null && rawRate !== null ? (100 * rate) / rawRate : null,
        scoresMs,
        scoresMs === null ? null : (100 * scoresMs) / perChunk(steady, "wallMs"),
      ];
    });

  const tables: Table[] = [
    systemTable(system, modelName),
    {
      title: `prefill · run ${runId}`,
      head: ["length", "policy", "cache", "seconds", "tokens/s", "× vs full", "maintenance %", "outside decode %", "VRAM peak GiB", "host RSS GiB"],
      rows: prefillRows,
      notes: [
        "× vs full: full-cache seconds / this policy's seconds at the same length; maintenance: policy decisions + eviction from the KV cache, share of the wall time",
        "outside decode: the part of it outside llama.cpp's decode; the rest is the eviction llama.cpp applies at the end of a chunk's decode while the GPU still computes (eviction-in-decode), hidden where the GPU's wait outlasts it",
        "each policy streams once to its longest length and is recorded as it passes the shorter ones (the same tokens in the same chunks); the full cache's context is sized for its longest length",
        "VRAM: the GPU's used memory (model weights included), sampled every 100 ms",
        ...notes,
      ],
      decimals: [undefined, undefined, undefined, 2, 0, 2, 1, 1, 2, 2],
    },
    steadyTable(steadyRows),
  ];
  const phaseTable = decodePhasesTable(records);
  if (phaseTable) tables.push(phaseTable);
  if (raw)
    tables.push({
      title: "raw llama.cpp evaluation: the same tokens at the same KV occupancy, no policy (each chunk dropped again from the tail)",
      head: ["occupancy", "stride", "chunks", "evaluate ms/chunk", "tokens/s", "tail erase ms/chunk", "VRAM peak GiB"],
      rows: [[raw.policy.sinks + raw.policy.window, raw.stride, raw.steady?.chunks ?? 0, rawEvaluatePerChunk, rawRate, raw.steady ? perChunk(raw.steady, "eraseMs") : null, gib(raw.memory?.vramPeakBytes)]],
      decimals: [0, 0, 0, 1, 0, 2, 2],
    });
  return tables;
}

/** Where a steady chunk's evaluation went inside llama.cpp (records with the decode-timings extension's phases). */
function decodePhasesTable(records: readonly BenchRecord[]): Table | undefined {
  const timed = records
    .filter((record) => record.status === "measured" && record.steady?.decodePhasesMs)
    .sort((a, b) => Number(a.kind === "stream") - Number(b.kind === "stream") || a.length - b.length || policyOrder(a) - policyOrder(b));
  if (timed.length === 0) return undefined;
  const rows = timed.map((record): Cell[] => {
    const steady = record.steady!;
    const phases = steady.decodePhasesMs!.map((ms) => ms / steady.chunks);
    const evict = perChunk(steady, "evictInDecodeMs");
    const outside = perChunk(steady, "evaluateMs") - evict - phases.reduce((sum, ms) => sum + ms, 0);
    return [record.kind === "raw" ? "raw" : tokensLabel(record.length), record.policy.name, steady.chunks, perChunk(steady, "evaluateMs"), ...phases.slice(0, -1), evict, phases.at(-1)!, outside];
  });
  return {
    title: "inside llama.cpp's evaluation: ms per steady chunk by phase of its decode (decode-timings extension)",
    head: ["length", "policy", "chunks", "evaluate ms", ...DECODE_PHASES.slice(0, -1), "evict", DECODE_PHASES.at(-1)!, "outside decode"],
    rows,
    notes: [
      "K-shift: re-rotating the keys of moved cells (deferred from the eviction); plan: slot search for every ubatch; place: writing the ubatch into the KV cells; graph: reuse or build and allocation; inputs: input tensors on the host (the KQ mask); launch: uploading inputs and launching the graph; evict: the eviction at the decode's end (eviction-in-decode) while the GPU computes; wait: what is left until the GPU finishes",
      "outside decode: node-llama-cpp around it (batch preparation, reading the logits)",
    ],
    decimals: [undefined, undefined, 0, 1, ...DECODE_PHASES.map(() => 1), 1, 1],
  };
}

/**
 * The steady-state table; the attention scores' two derived columns only where a row has them (a run that measured
 * attention for cascading next to the strided cascade), so that other runs' tables stay as they were.
 */
function steadyTable(rows: Cell[][]): Table {
  const scored = rows.some((row) => row.at(-2) !== null);
  const notes = [
    "evaluate includes llama.cpp's deferred re-rotation of the shifted keys and the eviction in decode; re-rotation (derived) = evaluate − raw evaluate per chunk",
    "erase: the eviction outside the decode (with the eviction in decode, only queuing it and updating node-llama-cpp's record)",
    "% of raw: steady tokens/s (wall, maintenance included) / raw llama.cpp evaluation tokens/s",
  ];
  if (scored)
    notes.push(
      "scores (derived): the attention measurement's cost, cascading's evaluate − cascading-strided's evaluate per chunk at the same length (measured attention only; the strided cascade's evaluate also holds its eviction in decode, mostly hidden under the GPU's wait); % of chunk: of cascading's wall ms",
    );
  const head = ["length", "policy", "chunks", "wall ms", "evaluate ms", "re-rotation ms (derived)", "policy ms", "erase ms", "evict in decode ms", "maintenance %", "outside decode %", "tokens/s", "% of raw"];
  return {
    title: "per chunk with the cache full (steady state), against raw llama.cpp evaluation at the same occupancy",
    head: scored ? [...head, "scores ms (derived)", "scores % of chunk"] : head,
    rows: scored ? rows : rows.map((row) => row.slice(0, -2)),
    notes,
    decimals: [undefined, undefined, 0, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 1],
  };
}
