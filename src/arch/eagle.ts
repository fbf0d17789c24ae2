/**
 * `eagle`: EAGLE speculative-decoding draft models (`EagleForCausalLM`, `eagle_model.py`). A
 * Llama decoder without the `model.` prefix (`embed_tokens`, `layers.{i}`), whose first layer has
 * no `input_layernorm` (L34-L35), and `fc` (`2H -> H`, with a bias when `bias`, the default) that
 * fuses the token embedding with the base model's hidden state. Standard loader with
 * `layer_prefix="layers"`: fused `qkv_proj` and `gate_up_proj`, rotary `inv_freq` declared unused
 * (`eagle_loader.py` L19-L23). `EagleConfig` is `LlamaConfig` plus `bias`. EAGLE repos ship a
 * Llama config.json (`model_type: llama`), so this type needs `--model-type eagle`.
 *
 * @module
 */
import { intField } from "./config.ts";
import { requireDivisible } from "./_dense.ts";
import { declaredUnused, type ParamSpec, standardMapping } from "./_standard.ts";
import type { Architecture } from "./types.ts";
import { llama } from "./llama.ts";

/** The eagle architecture. */
export const eagle: Architecture = {
  name: "eagle",
  hfModelTypes: [],
  quantKinds: ["no-quant", "group-quant"],
  configClass: {
    ...llama.configClass,
    className: "EagleConfig",
    fields: [...llama.configClass.fields, ["bias", true]],
  },
  params(cfg) {
    const h = intField(cfg, "hidden_size");
    const i = intField(cfg, "intermediate_size");
    const nq = intField(cfg, "num_attention_heads");
    const nkv = intField(cfg, "num_key_value_heads");
    const d = intField(cfg, "head_dim");
    const layers = intField(cfg, "num_hidden_layers");
    requireDivisible(h, nq, "hidden_size", "num_attention_heads"); // eagle_model.py L79
    const specs: ParamSpec[] = [{
      name: "embed_tokens.weight",
      shape: ["vocab_size", h],
      quant: "embedding",
    }];
    for (let l = 0; l < layers; l++) {
      const p = `layers.${l}`;
      specs.push(
        { name: `${p}.self_attn.qkv_proj.weight`, shape: [(nq + 2 * nkv) * d, h], quant: "linear" },
        { name: `${p}.self_attn.o_proj.weight`, shape: [h, nq * d], quant: "linear" },
        { name: `${p}.mlp.gate_up_proj.weight`, shape: [2 * i, h], quant: "linear" },
        { name: `${p}.mlp.down_proj.weight`, shape: [h, i], quant: "linear" },
      );
      if (l !== 0) specs.push({ name: `${p}.input_layernorm.weight`, shape: [h] });
      specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h] });
    }
    specs.push({ name: "fc.weight", shape: [h, 2 * h], quant: "linear" });
    if (cfg.bias) specs.push({ name: "fc.bias", shape: [h] });
    return standardMapping(specs, { numLayers: layers, layerPrefix: "layers" });
  },
  isUnused: declaredUnused([/^layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/]),
};
