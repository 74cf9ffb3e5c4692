import type { PolicyParameter } from "./policy.js";

/** The parameters several policies share: each is one flag on every command. */
export const SINKS: PolicyParameter = { key: "sinks", flag: "--sinks", help: "attention sinks: the first tokens of the stream, never evicted", minimum: 0 };
export const WINDOW: PolicyParameter = { key: "window", flag: "--window", help: "tokens kept after the sinks", minimum: 1 };
export const CASCADES: PolicyParameter = { key: "cascades", flag: "--cascades", help: "sub-caches of a cascading cache (1 equals sink-window)", minimum: 1 };
