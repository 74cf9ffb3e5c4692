// Child process of host-fast-path.spec: llama.cpp reads CASCADE_EVAL_STOCK_HOST_PATH once per process, so each
// host path runs in its own process. Streams stories260K under the policy given as JSON and prints the outcome.
import { Engine } from "../../src/engine/engine.js";
import { createPolicy } from "../../src/policies/registry.js";
import type { PolicyConfig } from "../../src/policies/policy.js";
import { fixture } from "../fixtures.js";

const { policy, flashAttention } = JSON.parse(process.argv[2]!) as { policy: PolicyConfig; flashAttention: boolean };
const engine = await Engine.open({ model: fixture("models/stories260K.gguf"), gpu: "cpu", threads: 1, flashAttention });
const tokens = engine.sampleTokens(1200, 11);
const stream = await engine.openStream({ policy: createPolicy(policy), stride: 96, totalTokens: tokens.length + 24 });
const { logProbabilities } = await stream.feed(tokens, { logProbabilities: true });
const generated = await stream.generate({ maxTokens: 24 });
process.stdout.write(`${JSON.stringify({ hostFastPath: engine.hardware.hostFastPath, logProbabilities: Array.from(logProbabilities), generated, evicted: stream.counters.evicted })}\n`);
await engine.closeStream(stream);
await engine.close();
