import { Command, Option } from "commander";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_RESULTS_DIRECTORY } from "../config.js";
import { GPU_CHOICES, type GpuChoice } from "../engine/llama.js";
import { UsageError } from "../errors.js";
import { newRunId } from "../results/run-folder.js";
import { parsePreset, SCALES, type Scale } from "../reproduce/presets.js";
import { writeReport } from "../reproduce/report.js";
import { planSteps, readManifest, runSteps, type ReproductionManifest } from "../reproduce/run.js";
import { parseShard, shardLabel } from "../tasks/shard.js";
import { parseChoice, parseCount } from "./parse.js";

interface ReproduceFlags {
  model?: string;
  scale: Scale;
  gpu: GpuChoice;
  threads?: number;
  results: string;
  progress: boolean;
  resume?: string;
  samples?: number;
  parallel?: number;
  report?: boolean;
  shard?: string;
}

export function reproduceCommand(): Command {
  return new Command("reproduce")
    .description("the paper's experiments (passkey, pg19, longbench, booksum or all) as runs, with a report of tables, figures and checks")
    .argument("[preset]", "passkey, pg19, longbench, booksum or all (not with --resume)")
    .addOption(new Option("--scale <scale>", "paper: the paper's settings; ci: shrunk to run on 2 CPU cores with the default model, on the fixtures ($CASCADE_EVAL_FIXTURES/data, default ../shared/data)").default("paper").argParser(parseChoice("--scale", SCALES)))
    .option("--model <path|uri>", "GGUF file or model URI for every run (default: the embedded model)")
    .addOption(new Option("--gpu <kind>", "auto, cuda, vulkan or cpu").default("auto").argParser(parseChoice("--gpu", GPU_CHOICES)))
    .option("--threads <n>", "CPU threads (default: physical cores)", parseCount("--threads", 1))
    .option("--results <dir>", "where the reproduction folder goes", DEFAULT_RESULTS_DIRECTORY)
    .option("--no-progress", "plain progress lines instead of the live view")
    .option("--samples <n>", "fewer samples than the preset (passkey keys per length × depth, LongBench items per dataset, BookSum rows); said in the report", parseCount("--samples", 1))
    .option("--parallel <n>", "samples streamed at once by the passkey and LongBench steps, each in its own context (memory permitting); a resume may change it", parseCount("--parallel", 1, 64))
    .option("--report", "with --resume: write the report of the records so far (an unfinished step's included, its tables marked partial) and run nothing")
    .option("--shard <K/N>", "every step runs only its shard K of N (K from 1 to N; auto/N: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX + 1); no report: merge each step's shards with cascade-eval merge")
    .option("--resume <folder>", "continue an interrupted reproduction (finished runs are kept, an interrupted one is resumed)")
    .action(async (preset: string | undefined, flags: ReproduceFlags) => {
      let work: string;
      let manifest: ReproductionManifest;
      if (flags.resume !== undefined) {
        if (preset !== undefined) throw new UsageError("--resume continues the reproduction's own presets; drop the preset");
        if (flags.samples !== undefined) throw new UsageError("--resume keeps the reproduction's own --samples; drop it");
        if (flags.shard !== undefined) throw new UsageError("--resume keeps the reproduction's own --shard; drop it");
        work = resolve(flags.resume);
        manifest = readManifest(work);
        if (flags.parallel !== undefined) manifest.options.parallel = flags.parallel;
      } else {
        if (preset === undefined) throw new UsageError("name a preset: passkey, pg19, longbench, booksum or all");
        const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
        const options = { presets: parsePreset(preset), scale: flags.scale, model: flags.model && resolveModel(flags.model), gpu: flags.gpu, threads: flags.threads, progress: flags.progress, samples: flags.samples, parallel: flags.parallel, shard };
        // shards of an array start in the same second: their folders must not collide
        work = resolve(flags.results, newRunId(`reproduce-${preset}-${flags.scale}${shard ? `-shard${shard.index}of${shard.count}` : ""}`));
        manifest = { options, createdAt: new Date().toISOString(), steps: planSteps(options, work) };
      }
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      if (flags.report && flags.resume === undefined) throw new UsageError("--report writes the report of a reproduction so far: give its folder with --resume");
      const finished = flags.report || (await runSteps(work, manifest, controller.signal));
      if (!finished) {
        process.stderr.write(`interrupted: continue with: cascade-eval reproduce --resume ${work}\n`);
        process.exitCode = 130;
        return;
      }
      const shard = manifest.options.shard;
      if (shard !== undefined) {
        // one shard's records are a part of each table: the report is written from the merged runs
        process.stderr.write(`shard ${shardLabel(shard)} of the reproduction done in ${work}; once all ${shard.count} are, merge each step's runs (cascade-eval merge, one step at a time) and rebuild its tables with cascade-eval table\n`);
        return;
      }
      const { checks, report } = await writeReport(work, manifest, flags.report);
      const failed = checks.filter((check) => !check.passed);
      process.stdout.write(report);
      process.stderr.write(`${work}/report.md: ${checks.length - failed.length} of ${checks.length} checks pass\n`);
      for (const check of failed) process.stderr.write(`check failed: ${check.name} (${check.detail})\n`);
      if (failed.length > 0) process.exitCode = 1;
    });
}

/** A local model path as an absolute path (the runs resolve it from their own folder); URIs as given. */
function resolveModel(model: string): string {
  return /^(hf:|https?:\/\/)/i.test(model) || !existsSync(model) ? model : resolve(model);
}
