/** The reproduction presets: declarative steps in tasks/reproduce.json, at the paper's scale or CI's. */
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { projectPath } from "../util/paths.js";

export const PRESET_NAMES = ["passkey", "pg19", "longbench", "booksum"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const SCALES = ["paper", "ci"] as const;
export type Scale = (typeof SCALES)[number];

export interface Step {
  id: string;
  /** The cache (window) and cascades the step's runs stand for in the paper's tables. */
  cache?: number;
  cascades?: number;
  args: string[];
}

export interface Preset {
  title: string;
  paper: Step[];
  ci: Step[];
}

export interface ReproduceConfig {
  /** The policies the report compares: Δ method − baseline, both next to the unbounded reference. */
  compare: { reference: string; baseline: string; method: string; others?: string[] };
  presets: Record<PresetName, Preset> & {
    booksum: Preset & { ciStandIn: { from: string; books: number; bookChars: number; referenceChars: number; note: string } };
  };
}

export function loadReproduceConfig(): ReproduceConfig {
  return JSON.parse(readFileSync(projectPath("tasks", "reproduce.json"), "utf8")) as ReproduceConfig;
}

/** `all` or one preset name. */
export function parsePreset(name: string): PresetName[] {
  if (name === "all") return [...PRESET_NAMES];
  if (!(PRESET_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown preset '${name}' (known: ${PRESET_NAMES.join(", ")}, all)`);
  return [name as PresetName];
}

/** The step of a preset by id, at the scale a reproduction ran. */
export function findStep(preset: PresetName, scale: Scale, id: string): Step | undefined {
  return loadReproduceConfig().presets[preset][scale].find((step) => step.id === id);
}
