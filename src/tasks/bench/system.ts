/** What a speed record says about the machine beyond what llama.cpp reports: driver, CPU, memory, our version. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { projectPath, projectVersion } from "../../util/paths.js";

export interface MachineInfo {
  cpu: string;
  cpuCores: number;
  hostMemoryBytes: number;
  /** From nvidia-smi when present: the driver and the CUDA version it supports. */
  nvidiaDriver: string | null;
  cudaVersion: string | null;
  cascadeEval: { version: string; commit: string | null };
}

function quiet(command: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000, cwd });
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  const smi = quiet("nvidia-smi", []);
  const version = projectVersion();
  const commit = existsSync(projectPath(".git")) ? (quiet("git", ["rev-parse", "--short=12", "HEAD"], projectPath())?.trim() ?? null) : null;
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cpuCores: cpus().length,
    hostMemoryBytes: totalmem(),
    nvidiaDriver: smi?.match(/Driver Version:\s*([\d.]+)/)?.[1] ?? null,
    cudaVersion: smi?.match(/CUDA Version:\s*([\d.]+)/)?.[1] ?? null,
    cascadeEval: { version, commit },
  };
}
