/**
 * `medusa`: Medusa speculative-decoding heads (`MedusaModel`, `medusa_model.py`). Each head `h`
 * is `medusa_num_layers` residual blocks (`medusa_head.{h}.{l}.linear`, weight and bias) and a
 * vocabulary projection `medusa_head.{h}.{medusa_num_layers}.weight`, all mapped 1:1 (standard
 * loader with both fusions off, `medusa_loader.py` L10-L14). MLC offers no-quant only
 * (`model.py`: `supports_group_quant=False, supports_ft_quant=False`). `MedusaConfig` needs
 * `hidden_size` and `vocab_size`, which a Medusa repo's config.json does not carry: add the base
 * model's.
 *
 * @module
 */
import { intField, REQUIRED } from "./config.ts";
import { linear } from "./_dense.ts";
import type { Architecture, ArchParam } from "./types.ts";

/** The medusa architecture. */
export const medusa: Architecture = {
  name: "medusa",
  hfModelTypes: [],
  quantKinds: ["no-quant"],
  configClass: {
    className: "MedusaConfig",
    fields: [
      ["medusa_num_heads", REQUIRED],
      ["medusa_num_layers", REQUIRED],
      ["hidden_size", REQUIRED],
      ["vocab_size", REQUIRED],
      ["max_batch_size", 1],
      ["tensor_parallel_shards", 1],
      ["prefill_chunk_size", -1],
      ["context_window_size", -1],
    ],
    postInit() {},
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const layers = intField(cfg, "medusa_num_layers");
    const out: ArchParam[] = [];
    for (let head = 0; head < intField(cfg, "medusa_num_heads"); head++) {
      for (let l = 0; l < layers; l++) out.push(...linear(`medusa_head.${head}.${l}.linear`, h, h, true));
      out.push(...linear(`medusa_head.${head}.${layers}`, intField(cfg, "vocab_size"), h, false));
    }
    return out;
  },
};
