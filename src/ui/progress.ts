import type { Table } from "../printers/table.js";

export interface RunStart {
  title: string;
  totalUnits: number;
  /** Units already finished (a resumed run). */
  doneUnits: number;
  /** Prompt tokens of the units still to run. */
  totalTokens: number;
  /** The result tables as they stand; re-read after each unit. */
  tables: () => Table[];
  /** The units still to run, in order: their prompt tokens and the most their cache holds (see UnitCost). */
  pending?: readonly UnitCost[];
  /** What the counts count, e.g. "records (keys × policies)" (default "units"). */
  unitsName?: string;
}

/**
 * What a unit costs: `tokens` evaluated, each against the cache as it stands, which holds at most `capacity`
 * tokens (Infinity for the full cache: its attention grows with the square of the length; undefined: not known,
 * counted by tokens alone).
 */
export interface UnitCost {
  tokens: number;
  capacity?: number;
}

/** Σ over the first `tokens` tokens of the cache each attends to: the attention part of a unit's cost. */
export function attentionWork(tokens: number, capacity: number | undefined): number {
  if (capacity === undefined) return 0;
  if (tokens <= capacity) return (tokens * (tokens + 1)) / 2;
  return (capacity * (capacity + 1)) / 2 + (tokens - capacity) * capacity;
}

export interface ChunkProgress {
  /** Tokens of the current unit's prompt evaluated so far. */
  unitTokensDone: number;
  current: string;
}

/** What a long run tells the user while it works. */
export interface ProgressReporter {
  start(run: RunStart): void;
  progress(update: ChunkProgress): void;
  unitDone(unit: { promptTokens: number }): void;
  stop(): void;
}

/**
 * Counts behind every view: units, tokens, throughput and ETA. The ETA models a run's time as α · tokens + β ·
 * attention work (attentionWork), fitted to the run's own progress after each finished unit: a full cache's
 * quadratic cost then counts as such (a whole-run token rate is wrong for it), and with one kind of unit the fit
 * reduces to the token rate.
 */
export class ProgressState {
  doneUnits = 0;
  tokensDone = 0;
  private finishedUnitTokens = 0;
  private finishedAttention = 0;
  private inFlightAttention = 0;
  private readonly pending: UnitCost[];
  /** (tokens, attention work, seconds) since the start, after each finished unit. */
  private readonly samples: { tokens: number; attention: number; seconds: number }[] = [];
  current = "";
  readonly startedAt = performance.now();

  constructor(
    readonly run: RunStart,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.doneUnits = run.doneUnits;
    this.pending = [...(run.pending ?? [])];
    this.startedAt = now();
  }

  get unitsName(): string {
    return this.run.unitsName ?? "units";
  }

  chunk(update: ChunkProgress): void {
    this.tokensDone = this.finishedUnitTokens + update.unitTokensDone;
    this.inFlightAttention = attentionWork(update.unitTokensDone, this.pending[0]?.capacity);
    this.current = update.current;
  }

  unitDone(promptTokens: number): void {
    this.doneUnits += 1;
    const at = this.pending.findIndex((unit) => unit.tokens === promptTokens);
    const [unit] = at >= 0 ? this.pending.splice(at, 1) : [{ tokens: promptTokens }];
    this.finishedUnitTokens += promptTokens;
    this.finishedAttention += attentionWork(unit!.tokens, unit!.capacity);
    this.inFlightAttention = 0;
    this.tokensDone = this.finishedUnitTokens;
    this.samples.push({ tokens: this.finishedUnitTokens, attention: this.finishedAttention, seconds: this.elapsed() });
  }

  private elapsed(): number {
    return (this.now() - this.startedAt) / 1000;
  }

  get tokensPerSecond(): number {
    const seconds = this.elapsed();
    return seconds > 0 ? this.tokensDone / seconds : 0;
  }

  /** Seconds left: the work still to do (tokens and attention) at the rates fitted so far. */
  get etaSeconds(): number | null {
    const rate = this.tokensPerSecond;
    if (rate <= 0) return null;
    if (this.run.pending === undefined) return (this.run.totalTokens - this.tokensDone) / rate;
    const tokensLeft = this.pending.reduce((sum, unit) => sum + unit.tokens, 0) - (this.tokensDone - this.finishedUnitTokens);
    const attentionLeft = this.pending.reduce((sum, unit) => sum + attentionWork(unit.tokens, unit.capacity), 0) - this.inFlightAttention;
    const { perToken, perAttention } = this.fit(rate);
    return Math.max(0, perToken * tokensLeft + perAttention * attentionLeft);
  }

  /** Least squares of seconds ≈ α·tokens + β·attention through the origin, both ≥ 0; the token rate alone until it can tell them apart. */
  private fit(rate: number): { perToken: number; perAttention: number } {
    const tokenOnly = { perToken: 1 / rate, perAttention: 0 };
    if (this.samples.length < 2) return tokenOnly;
    let tt = 0, ta = 0, aa = 0, ts = 0, as = 0;
    for (const { tokens, attention, seconds } of this.samples) {
      tt += tokens * tokens;
      ta += tokens * attention;
      aa += attention * attention;
      ts += tokens * seconds;
      as += attention * seconds;
    }
    const determinant = tt * aa - ta * ta;
    if (aa === 0 || determinant <= 1e-9 * tt * aa) return tokenOnly;
    const perToken = (ts * aa - as * ta) / determinant;
    const perAttention = (as * tt - ts * ta) / determinant;
    if (perToken >= 0 && perAttention >= 0) return { perToken, perAttention };
    // one of them would be negative: the better of the two one-term fits
    return perAttention < 0 ? { perToken: ts / tt, perAttention: 0 } : { perToken: 0, perAttention: as / aa };
  }
}

/** A line cut to `width` columns, with "…" where it was cut. */
function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/** What the live view shows in a terminal of `width` × `height`, top to bottom; the status line (bar last) is `status`. */
export interface LiveView {
  lines: string[];
  /** 0..1 of the prompt tokens. */
  fraction: number;
  barWidth: number;
  status: string;
}

/**
 * The live view laid out for a terminal: never taller than `height - 1` lines (so it never scrolls) and no line
 * wider than `width`: the title, the tables as far as they fit (then how many lines are left for the end), the
 * units in flight, and last the progress bar with counts, throughput and ETA, always on screen.
 */
export function liveView(state: ProgressState, tablesText: string, width: number, height: number): LiveView {
  const { run } = state;
  const status = `${state.doneUnits}/${run.totalUnits} ${state.unitsName} · ${Math.round(state.tokensPerSecond).toLocaleString("en-US")} tok/s · ETA ${formatDuration(state.etaSeconds)}`;
  const barWidth = Math.max(0, Math.min(30, width - status.length - 1));
  const room = Math.max(0, height - 1 - 3);
  const tableLines = tablesText.replace(/\n+$/, "").split("\n").filter((line, index, all) => line !== "" || index < all.length - 1);
  const shown = tableLines.length <= room ? tableLines : [...tableLines.slice(0, Math.max(0, room - 1)), `… ${tableLines.length - Math.max(0, room - 1)} more lines; the whole tables are printed at the end`];
  return {
    lines: [run.title, ...shown.slice(0, room), state.current].map((line) => clip(line, width)),
    fraction: run.totalTokens > 0 ? state.tokensDone / run.totalTokens : 1,
    barWidth,
    status: clip(status, width - (barWidth > 0 ? barWidth + 1 : 0)),
  };
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "–";
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  return hours > 0 ? `${hours}h${String(minutes).padStart(2, "0")}m` : minutes > 0 ? `${minutes}m${String(secs).padStart(2, "0")}s` : `${secs}s`;
}

/**
 * For logs and CI: one line per finished unit on stderr, and a line every `heartbeatMs` within a long unit (a
 * whole book through the full cache can take minutes) so that a log never looks stuck.
 */
export class LineReporter implements ProgressReporter {
  private state: ProgressState | undefined;
  private lastLineAt = performance.now();

  constructor(private readonly heartbeatMs = 60_000) {}

  start(run: RunStart): void {
    this.state = new ProgressState(run);
    this.lastLineAt = performance.now();
    process.stderr.write(`${run.title}\n${run.doneUnits ? `resuming: ${run.doneUnits} of ${run.totalUnits} already done\n` : ""}`);
  }

  progress(update: ChunkProgress): void {
    const state = this.state;
    if (!state) return;
    state.chunk(update);
    if (performance.now() - this.lastLineAt < this.heartbeatMs) return;
    this.lastLineAt = performance.now();
    const rate = Math.round(state.tokensPerSecond);
    process.stderr.write(`  … ${update.current}: ${update.unitTokensDone} tokens in · ${rate} tok/s · ETA ${formatDuration(state.etaSeconds)}\n`);
  }

  unitDone(unit: { promptTokens: number }): void {
    const state = this.state;
    if (!state) return;
    state.unitDone(unit.promptTokens);
    this.lastLineAt = performance.now();
    const rate = Math.round(state.tokensPerSecond);
    process.stderr.write(`[${state.doneUnits}/${state.run.totalUnits}] ${state.current} · ${rate} tok/s · ETA ${formatDuration(state.etaSeconds)}\n`);
  }

  stop(): void {}
}
