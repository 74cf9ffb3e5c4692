import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";

export type GpuChoice = "auto" | "cuda" | "vulkan" | "cpu";
export const GPU_CHOICES: readonly GpuChoice[] = ["auto", "cuda", "vulkan", "cpu"];

/**
 * Physical cores, not hardware threads: llama.cpp's CPU kernels gain nothing from SMT siblings, and
 * oversubscribing a small machine made evaluation 15× slower here.
 */
/**
 * Threads of each context when `parallel` run side by side: the cores shared out (more threads than cores made CPU
 * runs several times slower); undefined leaves the engine's default (one context: every physical core).
 */
export function threadsPerContext(parallel: number, threads?: number): number | undefined {
  return threads ?? (parallel > 1 ? Math.max(1, Math.floor(physicalCoreCount() / parallel)) : undefined);
}

export function physicalCoreCount(): number {
  try {
    const cores = new Set<string>();
    let physicalId = "0";
    for (const line of readFileSync("/proc/cpuinfo", "utf8").split("\n")) {
      const [key, value] = line.split(":").map((part) => part.trim());
      if (key === "physical id") physicalId = value ?? "0";
      else if (key === "core id") cores.add(`${physicalId}:${value}`);
    }
    if (cores.size > 0) return cores.size;
  } catch {
    // not Linux: fall back to the logical count below
  }
  return availableParallelism();
}

/** llama.cpp's recent error lines: printed raw they would break the one-line errors, so they go into ours. */
const recentErrors: string[] = [];

function logLlama(level: LlamaLogLevel, message: string): void {
  if (level !== LlamaLogLevel.error && level !== LlamaLogLevel.fatal) return;
  recentErrors.push(message.trim());
  if (recentErrors.length > 8) recentErrors.shift();
}

/** The first llama.cpp error logged since the last call (the root cause comes first), then forgets them. */
export function takeLlamaError(): string | undefined {
  const first = recentErrors[0];
  recentErrors.length = 0;
  return first;
}

/**
 * Loads the llama.cpp binding: CUDA (or Vulkan) when a GPU and a matching binary are present, else the CPU.
 * Never builds from source: that needs a toolchain and network access a user did not ask for.
 */
export async function openLlama(gpu: GpuChoice): Promise<Llama> {
  return getLlama({
    gpu: gpu === "cpu" ? false : gpu,
    build: "never",
    logLevel: LlamaLogLevel.warn,
    logger: logLlama,
    progressLogs: false,
  });
}
