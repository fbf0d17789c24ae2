/**
 * `qwen3-embedding`: Qwen3-Embedding checkpoints (Qwen3Model saved without the `model.` prefix:
 * `embed_tokens.weight`, `layers.{i}...`, `norm.weight`). MLC registers `Qwen3EmbeddingModel`
 * with `Qwen3Config` and `qwen3_loader.huggingface_embedding`, which is the qwen3 mapping with
 * `model.` cut from every HF name (`qwen3_loader.py` L70-L73; `lm_head.weight` keeps its name).
 * The MLC parameters are qwen3's. config.json says `qwen3`, so this type needs
 * `--model-type qwen3-embedding`.
 *
 * @module
 */
import type { Architecture } from "./types.ts";
import { qwen3 } from "./qwen3.ts";

/** `qwen3_loader.huggingface_embedding`'s `to_hf`: the MLC name without a leading `model.`. */
const toHf = (name: string): string => (name.startsWith("model.") ? name.slice("model.".length) : name);

/** The qwen3-embedding architecture. */
export const qwen3Embedding: Architecture = {
  name: "qwen3-embedding",
  hfModelTypes: [],
  quantKinds: qwen3.quantKinds,
  configClass: qwen3.configClass,
  params: (cfg) => qwen3.params(cfg).map((p) => ({ ...p, sources: p.sources.map(toHf) })),
};
