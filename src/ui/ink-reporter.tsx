import { Box, render, Text, type Instance } from "ink";
import { useEffect, useState } from "react";
import { renderTerminal } from "../printers/terminal.js";
import { liveView, ProgressState, type ChunkProgress, type ProgressReporter, type RunStart } from "./progress.js";

function Bar({ fraction, width }: { fraction: number; width: number }) {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return <Text color="green">{"█".repeat(filled)}<Text color="gray">{"░".repeat(width - filled)}</Text></Text>;
}

/** Re-renders from the shared state a few times a second, so fast chunk updates cost nothing. */
function ProgressView({ state }: { state: ProgressState }) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), 250);
    return () => clearInterval(timer);
  }, []);
  const view = liveView(state, renderTerminal(state.run.tables()), process.stderr.columns || 80, process.stderr.rows || 24);
  const [title, ...rest] = view.lines;
  return (
    <Box flexDirection="column">
      <Text bold>{title}</Text>
      {rest.map((line, index) => (
        <Text key={index} color={index === rest.length - 1 ? "gray" : undefined}>
          {line}
        </Text>
      ))}
      <Box gap={1}>
        {view.barWidth > 0 ? <Bar fraction={view.fraction} width={view.barWidth} /> : null}
        <Text>{view.status}</Text>
      </Box>
    </Box>
  );
}

/** The interactive view: the result tables filling in, the units in flight, and last the progress bar and ETA. */
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
