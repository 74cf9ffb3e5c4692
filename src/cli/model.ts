import { Command, Option } from "commander";
import { mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defaultModelsDirectory, rememberModelSha256 } from "../engine/model.js";
import { UsageError } from "../errors.js";
import { findShape, kvBytesPerToken, MODEL_SHAPES, parameterCount } from "../gguf/shapes.js";
import { SYNTH_TYPES, vocabularyFile, writeSyntheticModel, type SynthType } from "../gguf/synth-model.js";
import { render } from "../printers/index.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../printers/table.js";
import { oneLineErrors } from "./common.js";
import { parseChoice, parseCount } from "./parse.js";
import { BENCH_MAX_LENGTH, parseLength } from "../util/lengths.js";

const GIB = 2 ** 30;

/** `model synth` and `model shapes`: random-weight GGUF files of real model shapes, for speed measurements. */
export function modelCommand(): Command {
  return new Command("model")
    .description("synthetic models: random weights in the exact shape of real models (speed does not depend on weights)")
    .addCommand(oneLineErrors(synthCommand()))
    .addCommand(oneLineErrors(shapesCommand()));
}

function synthCommand(): Command {
  return new Command("synth")
    .description("write a GGUF with random weights and the tensor shapes, hyper-parameters and tokenizer of a real model")
    .requiredOption("--shape <id>", `model shape: ${MODEL_SHAPES.map((shape) => shape.id).join(", ")}`)
    .addOption(new Option("--type <type>", "weight type").default("f16").argParser(parseChoice("--type", SYNTH_TYPES)))
    .requiredOption("-o, --out <file>", "GGUF file to write (atomically)")
    .option("--vocab <gguf>", "take the tokenizer from this GGUF (default: llama.cpp's vocabulary file of the shape's family)")
    .option("--seed <n>", "seed of the random weights", parseCount("--seed", 0), 1)
    .option("--context <n>", "trained context length to declare (default: the real model's), e.g. a tiny model for long-cache host-side measurements", (text: string) => parseLength(text, BENCH_MAX_LENGTH))
    .action(async (flags: { shape: string; type: SynthType; out: string; vocab?: string; seed: number; context?: number }) => {
      const known = findShape(flags.shape);
      if (!known) throw new UsageError(`unknown --shape '${flags.shape}' (known: ${MODEL_SHAPES.map((shape) => shape.id).join(", ")})`);
      const shape = flags.context === undefined ? known : { ...known, contextLength: flags.context };
      const vocab = flags.vocab !== undefined ? resolve(flags.vocab) : await vocabularyFile(shape.vocabulary, join(defaultModelsDirectory(), "vocab"));
      const out = resolve(flags.out);
      mkdirSync(dirname(out), { recursive: true });
      const started = performance.now();
      const written = await writeSyntheticModel(out, shape, flags.type, vocab, flags.seed);
      rememberModelSha256(out, written.sha256);
      const seconds = (performance.now() - started) / 1000;
      const gib = statSync(out).size / GIB;
      process.stdout.write(`${out}: ${shape.id} ${flags.type}, ${written.tensors.length} tensors, ${gib.toFixed(2)} GiB in ${seconds.toFixed(1)} s (sha256 ${written.sha256.slice(0, 12)}…)\n`);
    });
}

function shapesCommand(): Command {
  return new Command("shapes")
    .description("the model shapes synth knows, with their parameters and KV-cache bytes per token")
    .addOption(new Option("--format <format>", "terminal, markdown, csv or json").default("terminal").argParser(parseChoice("--format", OUTPUT_FORMATS)))
    .action((flags: { format: OutputFormat }) => {
      const rows = MODEL_SHAPES.map((shape) => [
        shape.id,
        shape.model,
        shape.architecture,
        shape.layers,
        shape.embedding,
        `${shape.heads}/${shape.kvHeads}`,
        shape.feedForward,
        shape.vocabSize,
        shape.contextLength,
        parameterCount(shape) / 1e9,
        kvBytesPerToken(shape) / 1024,
        (kvBytesPerToken(shape) * 2 ** 20) / GIB,
      ]);
      const head = ["shape", "model", "arch", "layers", "width", "heads/kv", "ffn", "vocab", "context", "params (B)", "KV KiB/token", "KV GiB at 1M"];
      process.stdout.write(render([{ title: "model shapes (F16 KV cache)", head, rows, decimals: [, , , , , , , , , 3, 1, 1] }], flags.format));
    });
}
