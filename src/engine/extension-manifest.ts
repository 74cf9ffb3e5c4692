/** extensions/manifest.json: cascade-eval's llama.cpp extensions, their versions, patches and the addon methods they add. */
import { readFileSync } from "node:fs";
import { projectPath } from "../util/paths.js";

export interface ExtensionPatch {
  /** `llama.cpp`: node-llama-cpp's cloned llama.cpp source; `addon`: its Node addon (paths start with addon/). */
  target: "llama.cpp" | "addon";
  file: string;
}

export interface ExtensionSpec {
  name: string;
  version: number;
  summary: string;
  /** The methods the patched addon gains: the extension counts as loaded when the binaries have them all. */
  addonMethods: string[];
  patches: ExtensionPatch[];
}

export interface ExtensionsManifest {
  nodeLlamaCpp: string;
  llamaCpp: { repo: string; release: string };
  extensions: ExtensionSpec[];
}

export function readExtensionsManifest(): ExtensionsManifest {
  return JSON.parse(readFileSync(projectPath("extensions", "manifest.json"), "utf8")) as ExtensionsManifest;
}

