import { projectPath } from "./util/paths.js";

/** The model used when no --model is given: shipped with the project, so the main job runs offline. */
export const DEFAULT_MODEL = projectPath("models", "probe-llama.gguf");

/** Where run folders go unless --results says otherwise. */
export const DEFAULT_RESULTS_DIRECTORY = "results";
