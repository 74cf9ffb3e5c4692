/**
 * `cascade-eval extensions build`: cascade-eval's llama.cpp extensions (extensions/manifest.json) patched into
 * node-llama-cpp's own build-from-source tree and compiled there, so that node-llama-cpp loads the patched local
 * build in place of its prebuilt binaries. Offline: node-llama-cpp clones llama.cpp from the git bundle it ships.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { readExtensionsManifest, type ExtensionPatch, type ExtensionSpec } from "../engine/extension-manifest.js";
import { UsageError } from "../errors.js";
import { nodeLlamaCppRoot, projectPath } from "../util/paths.js";

/** Where a patch target lives inside the node-llama-cpp package. */
function targetDirectory(target: ExtensionPatch["target"]): string {
  const llama = join(nodeLlamaCppRoot(), "llama");
  return target === "llama.cpp" ? join(llama, "llama.cpp") : llama;
}

/** A command of the build; its output goes to the terminal, a failure becomes one line. */
function runStep(what: string, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  const result = spawnSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, GIT_CEILING_DIRECTORIES: dirname(cwd), ...env } });
  if (result.error) throw new UsageError(`${what}: cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new UsageError(`${what} failed (${command} exit ${result.status ?? result.signal}); its output is above`);
}

/** git apply, quiet, in a folder that is not taken for part of an enclosing repository. */
function gitApply(cwd: string, args: string[]): boolean {
  const result = spawnSync("git", ["apply", ...args], { cwd, stdio: "ignore", env: { ...process.env, GIT_CEILING_DIRECTORIES: dirname(cwd) } });
  if (result.error) throw new UsageError(`cannot run git: ${result.error.message}`);
  return result.status === 0;
}

/** Where the copy of a patch as last applied to `directory` is kept (an extension's patch may change between versions). */
function appliedCopy(patchFile: string, directory: string): string {
  return join(directory, ".cascade-eval-patches", `${basename(dirname(patchFile))}-${basename(patchFile)}`);
}

/**
 * Applies a patch unless it is already in place. Where an earlier version of it is in place (its copy kept at the
 * last application applies in reverse), that one is taken out first. Anything else that keeps the patch from
 * applying is an error.
 */
export function applyPatch(patchFile: string, directory: string): "applied" | "already applied" | "upgraded" {
  const copy = appliedCopy(patchFile, directory);
  const keepCopy = () => {
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(patchFile, copy);
  };
  if (gitApply(directory, ["--reverse", "--check", patchFile])) {
    keepCopy();
    return "already applied";
  }
  let outcome: "applied" | "upgraded" = "applied";
  if (!gitApply(directory, ["--check", patchFile])) {
    const earlier = existsSync(copy) && gitApply(directory, ["--reverse", "--check", copy]);
    if (!earlier) throw new UsageError(`${patchFile} does not apply to ${directory} (a different llama.cpp or node-llama-cpp version?)`);
    if (!gitApply(directory, ["--reverse", copy])) throw new UsageError(`the earlier version of ${patchFile} could not be taken out of ${directory}`);
    if (!gitApply(directory, ["--check", patchFile])) throw new UsageError(`${patchFile} does not apply to ${directory} even without its earlier version`);
    outcome = "upgraded";
  }
  if (!gitApply(directory, [patchFile])) throw new UsageError(`${patchFile} passed its check but did not apply in ${directory}`);
  keepCopy();
  return outcome;
}

/**
 * llama.cpp's local build targets this CPU (-march=native), which takes in Intel AMX wherever the CPU reports it;
 * in sandboxed VMs (this project's machines among them) the tile instructions then trap (SIGILL) on the first Q8_0
 * or Q4_0 product. node-llama-cpp sets CMAKE_CXX_FLAGS itself and names its build folder after any custom CMake
 * option (the runtime would then not find the build), so the flags ride on the compiler command: CMake takes
 * arguments after the compiler in CC and CXX into every compilation, and GCC and Clang let an explicit -mno-amx-*
 * win over -march=native. node-llama-cpp configures each build afresh, so CC and CXX are read every time.
 */
function compilerWithoutAmx(): NodeJS.ProcessEnv {
  if (process.arch !== "x64") return {};
  const noAmx = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16";
  return { CC: `${process.env.CC ?? "cc"} ${noAmx}`, CXX: `${process.env.CXX ?? "c++"} ${noAmx}` };
}

function nodeLlamaCppCli(): string {
  return join(nodeLlamaCppRoot(), "dist", "cli", "cli.js");
}

export interface BuildOptions {
  /** node-llama-cpp's --gpu for the build: false (CPU), cuda or vulkan. */
  gpu: "false" | "cuda" | "vulkan";
  log: (line: string) => void;
}

/** Clones llama.cpp if needed, applies every extension's patches, and compiles node-llama-cpp's local build. */
export function buildExtensions(options: BuildOptions): ExtensionSpec[] {
  const manifest = readExtensionsManifest();
  const root = nodeLlamaCppRoot();
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  if (version !== manifest.nodeLlamaCpp)
    throw new UsageError(`the extensions are written for node-llama-cpp ${manifest.nodeLlamaCpp}, this is ${version}`);
  const cli = nodeLlamaCppCli();
  const source = targetDirectory("llama.cpp");
  if (!existsSync(join(source, "include", "llama.h"))) {
    options.log(`cloning llama.cpp ${manifest.llamaCpp.release} into ${source} (from node-llama-cpp's bundled git release)`);
    runStep("llama.cpp download", process.execPath, [cli, "source", "download", "--repo", manifest.llamaCpp.repo, "--release", manifest.llamaCpp.release, "--skipBuild", "--noUsageExample"], root);
  }
  const info = JSON.parse(readFileSync(join(root, "llama", "llama.cpp.info.json"), "utf8")) as { tag: string; llamaCppGithubRepo: string };
  if (info.tag !== manifest.llamaCpp.release)
    throw new UsageError(`node-llama-cpp's cloned llama.cpp is ${info.tag}, the extensions need ${manifest.llamaCpp.release}: run \`npx node-llama-cpp source clear\` first`);
  for (const extension of manifest.extensions)
    for (const patch of extension.patches) {
      const outcome = applyPatch(projectPath("extensions", patch.file), targetDirectory(patch.target));
      options.log(`${extension.name} v${extension.version}: ${patch.file} ${outcome}`);
    }
  options.log(`compiling llama.cpp and node-llama-cpp's addon (--gpu ${options.gpu}); minutes`);
  runStep("build", process.execPath, [cli, "source", "build", "--gpu", options.gpu, "--noUsageExample"], root, compilerWithoutAmx());
  return manifest.extensions;
}
