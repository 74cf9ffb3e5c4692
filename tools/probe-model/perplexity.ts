/**
 * Probe model card figure: full-cache perplexity on the PG19 test books, against a unigram baseline on the
 * same tokens.
 *
 *     node dist/tools/probe-model/perplexity.js [--model models/probe-llama.gguf] [--books PATH.jsonl.xz] [--window 4096]
 *
 * Each book is tokenized whole (with BOS) and cut into consecutive windows of `--window` tokens; each window is
 * evaluated with a fresh full cache, so every token is predicted from at most `--window` tokens of its own book.
 * The unigram baseline is the perplexity of the predicted tokens' own frequency distribution (fitted on those
 * very tokens, so it is the best any unigram model can do on them).
 */

import { parseArgs } from "node:util";

import { Engine } from "../../src/engine/engine.js";
import { createPolicy } from "../../src/policies/registry.js";
import { readJsonLinesXz } from "./pieces.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/probe-llama.gguf" },
    books: { type: "string", default: "../shared/data/pg19/pg19-test-approx.jsonl.xz" },
    window: { type: "string", default: "4096" },
    threads: { type: "string", default: "2" },
  },
});

async function main(): Promise<void> {
  const window = Number(values.window);
  const engine = await Engine.open({ model: values.model!, gpu: "cpu", threads: Number(values.threads) });
  const counts = new Map<number, number>();
  let totalNll = 0;
  let totalTokens = 0;
  process.stdout.write(`| book | tokens | perplexity |\n| --- | ---: | ---: |\n`);
  for await (const book of readJsonLinesXz(values.books!)) {
    const tokens = engine.tokenizeDocument(book.text);
    let nll = 0;
    let predicted = 0;
    for (let start = 0; start + 1 < tokens.length; start += window) {
      const piece = tokens.slice(start, start + window);
      const policy = createPolicy({ name: "full", sinks: 0, window: 1, cascades: 1 });
      const stream = await engine.openStream({ policy, stride: window, totalTokens: piece.length });
      const { logProbabilities } = await stream.feed(piece, { logProbabilities: true });
      await engine.closeStream(stream);
      for (const [i, logProbability] of logProbabilities.entries()) {
        nll -= logProbability;
        const token = piece[i + 1]!;
        counts.set(token, (counts.get(token) ?? 0) + 1);
      }
      predicted += logProbabilities.length;
    }
    process.stdout.write(`| ${book.book_id} ${book.short_book_title} | ${predicted} | ${Math.exp(nll / predicted).toFixed(2)} |\n`);
    totalNll += nll;
    totalTokens += predicted;
  }
  let entropy = 0;
  for (const count of counts.values()) entropy -= (count / totalTokens) * Math.log(count / totalTokens);
  process.stdout.write(
    `| all (${window}-token windows, full cache) | ${totalTokens} | ${Math.exp(totalNll / totalTokens).toFixed(2)} |\n` +
      `| unigram baseline on the same tokens | ${totalTokens} | ${Math.exp(entropy).toFixed(2)} |\n`,
  );
  await engine.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`perplexity: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
