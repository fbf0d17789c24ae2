/**
 * `rwkv6`: RWKV-6 "Finch" World checkpoints in the HF layout (RWKV/rwkv-6-world-*, remote code,
 * `model_version` "6_0" by default). Names are MLC's with `model` → `rwkv` (`rwkv6_loader.py`).
 * The data-dependent mixing adds `time_maa_*` and the LoRA-like `time_maa_w1/w2`,
 * `time_decay_w1/w2` (extra dims 64/128 when `hidden_size` is 4096, else 32/64: MLC's rule);
 * `time_decay` (1, 1, H) and `time_faaaa` and `ln_x` are float32 (copied, no `exp` here). The
 * feed-forward `key` has `hidden_size // 2 * 7` rows. `rescale_every` as in rwkv5.
 *
 * @module
 */
import { intField } from "./config.ts";
import { rwkvAttentionTail, rwkvConfigClass, rwkvParam, rwkvParams } from "./_rwkv.ts";
import type { Architecture } from "./types.ts";

/** The rwkv6 architecture. */
export const rwkv6: Architecture = {
  name: "rwkv6",
  hfModelTypes: ["rwkv6"],
  quantKinds: ["no-quant", "group-quant"],
  configClass: rwkvConfigClass("RWKV6Config", "6_0"),
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const [mixDim, decayDim] = h === 4096 ? [64, 128] : [32, 64];
    return rwkvParams(
      cfg,
      (i) => {
        const a = `model.blocks.${i}.attention`;
        return [
          ...["x", "w", "k", "v", "r", "g"].map((m) => rwkvParam(`${a}.time_maa_${m}`, [1, 1, h])),
          rwkvParam(`${a}.time_maa_w1`, [h, 5 * mixDim]),
          rwkvParam(`${a}.time_maa_w2`, [5, mixDim, h]),
          rwkvParam(`${a}.time_decay_w1`, [h, decayDim]),
          rwkvParam(`${a}.time_decay_w2`, [decayDim, h]),
          rwkvParam(`${a}.time_decay`, [1, 1, h], { dtype: "float32" }),
          rwkvParam(`${a}.time_faaaa`, [intField(cfg, "num_heads"), intField(cfg, "head_size")], {
            dtype: "float32",
          }),
          ...rwkvAttentionTail(cfg, a, i),
        ];
      },
      ["time_maa_k", "time_maa_r"],
      Math.floor(h / 2) * 7,
    );
  },
};
