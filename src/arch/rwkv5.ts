/**
 * `rwkv5`: RWKV-5 "Eagle" World checkpoints in the HF layout (RWKV/rwkv-5-world-*, remote code,
 * `model_version` "5_2"). Names are MLC's with `model` → `rwkv` (`rwkv5_loader.py`); the head is
 * `head`. Pinned to float32 by `RWKV5_Attention.to`: `time_decay` (stored as
 * `exp(-exp(x))`, computed in float32), `time_faaaa` and the GroupNorm `ln_x`. With
 * `rescale_every > 0`, block `i`'s `attention.output.weight` and `feed_forward.value.weight`
 * are divided by `2^(i // rescale_every)` in the model dtype.
 *
 * @module
 */
import { intField } from "./config.ts";
import { EXP_NEG_EXP, rwkvAttentionTail, rwkvConfigClass, rwkvParam, rwkvParams } from "./_rwkv.ts";
import type { Architecture } from "./types.ts";

/** The rwkv5 architecture. */
export const rwkv5: Architecture = {
  name: "rwkv5",
  hfModelTypes: ["rwkv5"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: rwkvConfigClass("RWKV5Config", "5_2"),
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const heads = [intField(cfg, "num_heads"), intField(cfg, "head_size")];
    return rwkvParams(
      cfg,
      (i) => {
        const a = `model.blocks.${i}.attention`;
        return [
          rwkvParam(`${a}.time_decay`, heads, { dtype: "float32", transform: EXP_NEG_EXP }),
          rwkvParam(`${a}.time_faaaa`, heads, { dtype: "float32" }),
          ...["time_mix_gate", "time_mix_key", "time_mix_value", "time_mix_receptance"].map((m) =>
            rwkvParam(`${a}.${m}`, [1, 1, h])
          ),
          ...rwkvAttentionTail(cfg, a, i),
        ];
      },
      ["time_mix_key", "time_mix_receptance"],
      intField(cfg, "intermediate_size"),
    );
  },
};
