/**
 * The architecture registry: one small file per MLC model type. Adding a model is adding a
 * file and one line here.
 *
 * @module
 */
import { echo } from "../text.ts";
import type { Architecture } from "./types.ts";
import { gemma3, gemma3Text } from "./gemma3.ts";
import { gemma } from "./gemma.ts";
import { gemma2 } from "./gemma2.ts";
import { gpt2 } from "./gpt2.ts";
import { gptNeox } from "./gpt_neox.ts";
import { llama } from "./llama.ts";
import { mistral } from "./mistral.ts";
import { phi } from "./phi.ts";
import { phi3 } from "./phi3.ts";
import { phiMsft } from "./phi_msft.ts";
import { qwen2 } from "./qwen2.ts";
import { qwen3 } from "./qwen3.ts";
import { baichuan } from "./baichuan.ts";
import { chatglm } from "./chatglm.ts";
import { cohere } from "./cohere.ts";
import { gptBigcode } from "./gpt_bigcode.ts";
import { gptj } from "./gptj.ts";
import { internlm } from "./internlm.ts";
import { internlm2 } from "./internlm2.ts";
import { nemotron } from "./nemotron.ts";
import { olmo } from "./olmo.ts";
import { olmo2 } from "./olmo2.ts";
import { orion } from "./orion.ts";
import { qwen } from "./qwen.ts";
import { rwkv5 } from "./rwkv5.ts";
import { rwkv6 } from "./rwkv6.ts";
import { stablelm } from "./stablelm.ts";
import { starcoder2 } from "./starcoder2.ts";
import { mixtral } from "./mixtral.ts";
import { qwen2Moe } from "./qwen2_moe.ts";
import { qwen3Moe } from "./qwen3_moe.ts";
import { deepseek } from "./deepseek.ts";
import { deepseekV2, deepseekV3 } from "./deepseek_v2.ts";
import { minicpm } from "./minicpm.ts";
import { bert, bertBge } from "./bert.ts";
import { eagle } from "./eagle.ts";
import { medusa } from "./medusa.ts";
import { qwen3Embedding } from "./qwen3_embedding.ts";
import { llama4 } from "./llama4.ts";
import { qwen35, qwen35Text } from "./qwen3_5.ts";
import { llava } from "./llava.ts";
import { ministral3 } from "./ministral3.ts";
import { phi3V } from "./phi3_v.ts";

/** All supported architectures by registry key, in the order they are listed to users. */
export const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  llama,
  mistral,
  qwen2,
  qwen3,
  gemma,
  gemma2,
  phi3,
  phi,
  "phi-msft": phiMsft,
  gpt_neox: gptNeox,
  gpt2,
  gemma3,
  gemma3_text: gemma3Text,
  starcoder2,
  gpt_bigcode: gptBigcode,
  stablelm,
  olmo,
  olmo2,
  internlm,
  internlm2,
  cohere,
  chatglm,
  baichuan,
  orion,
  qwen,
  nemotron,
  gptj,
  rwkv5,
  rwkv6,
  mixtral,
  qwen2_moe: qwen2Moe,
  qwen3_moe: qwen3Moe,
  deepseek,
  deepseek_v2: deepseekV2,
  deepseek_v3: deepseekV3,
  minicpm,
  "qwen3-embedding": qwen3Embedding,
  eagle,
  medusa,
  bert,
  "bert-bge": bertBge,
  llama4,
  qwen3_5: qwen35,
  qwen3_5_text: qwen35Text,
  llava,
  ministral3,
  phi3_v: phi3V,
};

/** HF `model_type` aliases that MLC rewrites before lookup. */
const ALIASES: Readonly<Record<string, string>> = { "mixformer-sequential": "phi-msft" };

/**
 * Finds the architecture for `--model-type` (or `auto`, using config.json's `model_type`).
 *
 * @example
 * ```ts
 * import { detectArchitecture } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(detectArchitecture("auto", { model_type: "llama" }).name, "llama");
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
      `Unknown model type "${echo(key)}". Supported model types: ${Object.keys(ARCHITECTURES).join(", ")}`,
    );
  }
  return arch;
}
