/**
 * `cascade-eval reproduce`: runs a preset's steps (tasks/reproduce.json) as cascade-eval's own task commands, each in
 * a child process writing its run folder under the reproduction's folder, then writes the report. A step that
 * was interrupted is continued with its task's --resume; finished steps are not run again.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { readDocuments } from "../datasets/local.js";
import { writeFileAtomic } from "../util/files.js";
import { fixturesPath, projectPath } from "../util/paths.js";
import { shardLabel, type Shard } from "../tasks/shard.js";
import { loadReproduceConfig, type PresetName, type Scale, type Step } from "./presets.js";

export interface ReproduceOptions {
  presets: PresetName[];
  scale: Scale;
  model?: string;
  gpu: string;
  threads?: number;
  progress: boolean;
  /** Fewer samples than the preset's: passkey keys per length × depth, LongBench items per dataset, BookSum rows. */
  samples?: number;
  /** Samples or items streamed at once by the steps whose task takes --parallel (a resume may change it). */
  parallel?: number;
  /** Every step runs only this shard of its units (--shard, resolved when the reproduction started). */
  shard?: Shard;
}

/** The tasks that stream several samples at once with --parallel. */
const PARALLEL_TASKS = new Set(["passkey", "longbench"]);

/** The tasks whose --samples a reproduction can lower (PG19 always reads every book of its file). */
const SAMPLED_TASKS = new Set(["passkey", "longbench", "booksum"]);

/** A step's arguments with --samples set to `samples` (replacing the preset's own count) where its task has one. */
function withSamples(args: string[], samples: number | undefined): string[] {
  if (samples === undefined || !SAMPLED_TASKS.has(args[0]!)) return args;
  const index = args.indexOf("--samples");
  return index >= 0 ? args.map((arg, at) => (at === index + 1 ? String(samples) : arg)) : [...args, "--samples", String(samples)];
}

export interface StepState {
  preset: PresetName;
  id: string;
  args: string[];
  /** The step's run folder relative to the reproduction's folder, once its task created it (the folder can move). */
  run?: string;
  status: "pending" | "done" | "failed";
}

export interface ReproductionManifest {
  options: ReproduceOptions;
  createdAt: string;
  steps: StepState[];
}

export const MANIFEST = "reproduce.json";
const BIN = projectPath("bin", "cascade-eval.js");


function expand(arg: string, work: string): string {
  return arg.replaceAll("{fixtures}", fixturesPath("data")).replaceAll("{work}", work);
}

/** The steps of the presets at a scale, with their command lines as they will run. */
export function planSteps(options: ReproduceOptions, work: string): StepState[] {
  const config = loadReproduceConfig();
  return options.presets.flatMap((preset) =>
    config.presets[preset][options.scale].map((step: Step) => ({
      preset,
      id: step.id,
      args: [
        ...withSamples(step.args.map((arg) => expand(arg, work)), options.samples),
        ...(options.model ? ["--model", options.model] : []),
        "--gpu",
        options.gpu,
        ...(options.threads ? ["--threads", String(options.threads)] : []),
        ...(options.shard ? ["--shard", shardLabel(options.shard)] : []),
      ],
      status: "pending" as const,
    })),
  );
}

/** At ci scale BookSum reads stand-in rows made from PG19 books (no BookSum offline); tasks/reproduce.json says how. */
async function writeBooksumStandIn(work: string): Promise<void> {
  const spec = loadReproduceConfig().presets.booksum.ciStandIn;
  const path = join(work, "booksum-standin.jsonl");
  if (existsSync(path)) return;
  const books = (await readDocuments(expand(spec.from, work))).slice(0, spec.books);
  const rows = books.map((book) => JSON.stringify({ prompt: book.text.slice(0, spec.bookChars), completion: book.text.slice(spec.bookChars, spec.bookChars + spec.referenceChars) }));
  writeFileAtomic(path, `${rows.join("\n")}\n`);
}

/** Runs one step to its end; its exit code (130 when interrupted). An abort is passed on to the step as SIGTERM. */
function runStep(step: StepState, work: string, options: ReproduceOptions, signal: AbortSignal): Promise<number> {
  const runs = join(work, "runs");
  const resume = step.run !== undefined;
  const [task] = step.args;
  const args = resume ? [task!, "--resume", join(work, step.run!), ...step.args.filter((_, i) => i > 0 && isRuntimeFlag(step.args, i))] : step.args;
  const parallel = options.parallel !== undefined && PARALLEL_TASKS.has(task!) ? ["--parallel", String(options.parallel)] : [];
  const child = spawn(process.execPath, [BIN, ...args, ...parallel, "--results", runs, "--format", "markdown", ...(options.progress ? [] : ["--no-progress"])], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = () => child.kill("SIGTERM");
  signal.addEventListener("abort", stop);
  return new Promise<number>((done, fail) => {
    child.on("error", fail);
    child.on("close", (code, killedBy) => done(code ?? (killedBy ? 130 : 1)));
  }).finally(() => signal.removeEventListener("abort", stop));
}

/** --gpu and --threads may be given again on a resume; the task's own flags may not. */
function isRuntimeFlag(args: readonly string[], index: number): boolean {
  const flag = (i: number) => args[i] === "--gpu" || args[i] === "--threads";
  return flag(index) || (index > 0 && flag(index - 1));
}

/** The run folder a step's task created (relative to `work`): the one under runs/ that no other step claims. */
function newRunFolder(work: string, claimed: ReadonlySet<string>): string | undefined {
  const runs = join(work, "runs");
  if (!existsSync(runs)) return undefined;
  return readdirSync(runs)
    .map((name) => join("runs", name))
    .filter((path) => existsSync(join(work, path, "run.json")) && !claimed.has(path))
    .sort()
    .at(-1);
}

/**
 * Runs every pending step of the reproduction in `work` (created with its manifest when new). Returns false
 * when a step was interrupted; throws when a step failed.
 */
export async function runSteps(work: string, manifest: ReproductionManifest, signal: AbortSignal): Promise<boolean> {
  const runs = join(work, "runs");
  mkdirSync(runs, { recursive: true });
  const save = () => writeFileAtomic(join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  save();
  if (manifest.options.scale === "ci" && manifest.steps.some((step) => step.preset === "booksum")) await writeBooksumStandIn(work);
  for (const step of manifest.steps) {
    if (step.status === "done") continue;
    if (signal.aborted) return false;
    process.stderr.write(`reproduce: ${step.preset} · ${step.id}: cascade-eval ${step.args.join(" ")}\n`);
    const code = await runStep(step, work, manifest.options, signal);
    step.run ??= newRunFolder(work, new Set(manifest.steps.flatMap((other) => (other.run ? [other.run] : []))));
    step.status = code === 0 ? "done" : code === 130 ? "pending" : "failed";
    save();
    if (code === 130 || signal.aborted) return false;
    if (code !== 0) throw new UsageError(`step ${step.preset} · ${step.id} failed (exit ${code}); fix the cause and continue with --resume ${work}`);
  }
  return true;
}

export function readManifest(work: string): ReproductionManifest {
  const path = join(work, MANIFEST);
  if (!existsSync(path)) throw new UsageError(`no reproduction at ${work} (expected ${MANIFEST})`);
  return JSON.parse(readFileSync(path, "utf8")) as ReproductionManifest;
}
