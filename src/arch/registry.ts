/**
 * The architecture registry: one small file per MLC model type. Adding a model is adding a
 * file and one line here.
 *
 * @module
 */
import type { Architecture } from "./_types.ts";
import { gemma3, gemma3Text } from "./gemma3.ts";
import { llama } from "./llama.ts";

/** All supported architectures by registry key, in the order they are listed to users. */
export const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  llama,
  gemma3,
  gemma3_text: gemma3Text,
};

/** HF `model_type` aliases that MLC rewrites before lookup. */
const ALIASES: Readonly<Record<string, string>> = { "mixformer-sequential": "phi-msft" };

/**
 * Finds the architecture for `--model-type` (or `auto`, using config.json's `model_type`).
 *
 * @example
 * ```ts
 * import { detectArchitecture } from "./registry.ts";
 * detectArchitecture("auto", { model_type: "llama" }).name; // "llama"
 * ```
 */
export function detectArchitecture(modelType: string, hfConfig: Record<string, unknown>): Architecture {
  let key = modelType;
  if (key === "auto") {
    const mt = hfConfig.model_type ??
      (hfConfig.model_config as Record<string, unknown> | undefined)?.model_type;
    if (typeof mt !== "string") {
      throw new Error(
        `config.json has no "model_type"; pass --model-type (supported: ${
          Object.keys(ARCHITECTURES).join(", ")
        })`,
      );
    }
    key = ALIASES[mt] ?? mt;
    const byHf = Object.values(ARCHITECTURES).find((a) => a.hfModelTypes.includes(key));
    if (byHf) return byHf;
  }
  const arch = ARCHITECTURES[key];
  if (!arch) {
    throw new Error(
      `Unknown model type "${key}". Supported model types: ${Object.keys(ARCHITECTURES).join(", ")}`,
    );
  }
  return arch;
}
