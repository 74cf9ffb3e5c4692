import { Command, Option } from "commander";
import { binariesStatus } from "../engine/extension-runtime.js";
import { GPU_CHOICES, type GpuChoice } from "../engine/llama.js";
import { buildExtensions } from "../build/extensions-build.js";
import { readExtensionsManifest } from "../engine/extension-manifest.js";
import { oneLineErrors } from "./common.js";
import { parseChoice } from "./parse.js";

const BUILD_GPUS = ["cpu", "cuda", "vulkan"] as const;

/** `extensions build` and `extensions status`: cascade-eval's llama.cpp patches (extensions/). */
export function extensionsCommand(): Command {
  return new Command("extensions")
    .description("cascade-eval's llama.cpp extensions (batched eviction, attention scores): build them from source, or see which are active")
    .addCommand(oneLineErrors(buildCommand()))
    .addCommand(oneLineErrors(statusCommand()));
}

function buildCommand(): Command {
  return new Command("build")
    .description("patch node-llama-cpp's llama.cpp source with every extension and compile it (offline; needs cmake and a C++ compiler)")
    .addOption(new Option("--gpu <gpu>", "compute backend to build: cpu, cuda or vulkan").default("cpu").argParser(parseChoice("--gpu", BUILD_GPUS)))
    .action(async (flags: { gpu: (typeof BUILD_GPUS)[number] }) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      buildExtensions({ gpu: flags.gpu === "cpu" ? "false" : flags.gpu, log });
      await printStatus(flags.gpu === "cpu" ? "cpu" : flags.gpu);
    });
}

function statusCommand(): Command {
  return new Command("status")
    .description("the binaries node-llama-cpp loads and the extensions they carry")
    .addOption(new Option("--gpu <gpu>", "auto, cuda, vulkan or cpu").default("auto").argParser(parseChoice("--gpu", GPU_CHOICES)))
    .action(async (flags: { gpu: GpuChoice }) => printStatus(flags.gpu));
}

async function printStatus(gpu: GpuChoice): Promise<void> {
  const status = await binariesStatus(gpu);
  const binaries = status.binaries === "localBuild" ? "local build (node-llama-cpp's build from source)" : "prebuilt (node-llama-cpp's release binaries)";
  process.stdout.write(`binaries: ${binaries}, ${status.gpu || "cpu"}, llama.cpp ${status.llamaCppRelease}\n`);
  for (const extension of readExtensionsManifest().extensions) {
    const active = status.extensions.includes(extension.name);
    process.stdout.write(`${extension.name} v${extension.version}: ${active ? "active" : "not in these binaries (cascade-eval extensions build)"}\n`);
  }
}
