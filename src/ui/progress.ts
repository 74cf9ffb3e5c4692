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

/** Counts behind every view: units, tokens, throughput and ETA. */
export class ProgressState {
  doneUnits = 0;
  tokensDone = 0;
  private finishedUnitTokens = 0;
  current = "";
  readonly startedAt = performance.now();

  constructor(readonly run: RunStart) {
    this.doneUnits = run.doneUnits;
  }

  chunk(update: ChunkProgress): void {
    this.tokensDone = this.finishedUnitTokens + update.unitTokensDone;
    this.current = update.current;
  }

  unitDone(promptTokens: number): void {
    this.doneUnits += 1;
    this.finishedUnitTokens += promptTokens;
    this.tokensDone = this.finishedUnitTokens;
  }

  get tokensPerSecond(): number {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return seconds > 0 ? this.tokensDone / seconds : 0;
  }

  /** Seconds left, from the prompt tokens still to evaluate at the throughput so far. */
  get etaSeconds(): number | null {
    const rate = this.tokensPerSecond;
    return rate > 0 ? (this.run.totalTokens - this.tokensDone) / rate : null;
  }
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
