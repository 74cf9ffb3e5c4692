import { Box, render, Text, type Instance } from "ink";
import { useEffect, useState } from "react";
import { renderTerminal } from "../printers/terminal.js";
import { formatDuration, ProgressState, type ChunkProgress, type ProgressReporter, type RunStart } from "./progress.js";

const BAR_WIDTH = 30;

function Bar({ fraction }: { fraction: number }) {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return <Text color="green">{"█".repeat(filled)}<Text color="gray">{"░".repeat(BAR_WIDTH - filled)}</Text></Text>;
}

/** Re-renders from the shared state a few times a second, so fast chunk updates cost nothing. */
function ProgressView({ state }: { state: ProgressState }) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), 250);
    return () => clearInterval(timer);
  }, []);
  const { run } = state;
  const tokenFraction = run.totalTokens > 0 ? state.tokensDone / run.totalTokens : 1;
  return (
    <Box flexDirection="column">
      <Text bold>{run.title}</Text>
      <Box gap={1}>
        <Bar fraction={tokenFraction} />
        <Text>
          {state.doneUnits}/{run.totalUnits} samples · {Math.round(state.tokensPerSecond).toLocaleString("en-US")} tok/s · ETA{" "}
          {formatDuration(state.etaSeconds)}
        </Text>
      </Box>
      <Text color="gray">{state.current}</Text>
      <Text>{renderTerminal(run.tables())}</Text>
    </Box>
  );
}

/** The interactive view: progress bar, ETA, tokens/s and the result tables filling in. */
export class InkReporter implements ProgressReporter {
  private instance: Instance | undefined;
  private state: ProgressState | undefined;

  start(run: RunStart): void {
    this.state = new ProgressState(run);
    this.instance = render(<ProgressView state={this.state} />, { exitOnCtrlC: false, stdout: process.stderr, patchConsole: false });
  }

  progress(update: ChunkProgress): void {
    this.state?.chunk(update);
  }

  unitDone(unit: { promptTokens: number }): void {
    this.state?.unitDone(unit.promptTokens);
  }

  stop(): void {
    // The final tables go to stdout; erase the live view so they are not shown twice.
    this.instance?.clear();
    this.instance?.unmount();
  }
}
