// Tiny config.json objects of the mixture-of-experts model types, one per registry key: 2 layers,
// hidden size 64, 4 experts (so a stacked expert tensor spans several sources and a chunk), the
// DeepSeek types with one dense layer first (first_k_dense_replace 1). Shared by support_test.ts
// (every scheme on every backend) and the per-family tests, with the helpers those share.
import { assertEquals } from "./_assert.ts";
import { LLAMA } from "./_dense_tiny.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { openCheckpoint } from "../src/checkpoint.ts";
import { convertWeight } from "../src/convert.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { WasmBackend } from "../src/kernels/wasm.ts";
import { planConversion } from "../src/plan.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import { getQuantization } from "../src/quant/schemes.ts";
import { writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";

export const IDS = { use_cache: true, bos_token_id: 1, eos_token_id: 2 };

/** DeepSeek-V2 multi-head latent attention, tiny: rank 32, rope 16, nope 16, v 16. */
export const MLA = {
  kv_lora_rank: 32,
  qk_rope_head_dim: 16,
  qk_nope_head_dim: 16,
  v_head_dim: 16,
  q_lora_rank: null,
};

/** DeepSeek MoE fields, tiny. */
export const DEEPSEEK_MOE = {
  moe_intermediate_size: 32,
  n_shared_experts: 2,
  n_routed_experts: 4,
  num_experts_per_tok: 2,
  moe_layer_freq: 1,
  first_k_dense_replace: 1,
  norm_topk_prob: false,
};

/** A tiny config.json per MoE registry key. */
export const MOE_TINY: Record<string, Record<string, unknown>> = {
  mixtral: {
    model_type: "mixtral",
    ...LLAMA,
    rope_theta: 1000000.0,
    num_local_experts: 4,
    num_experts_per_tok: 2,
  },
  qwen2_moe: {
    model_type: "qwen2_moe",
    ...LLAMA,
    hidden_act: "silu",
    rope_theta: 1000000.0,
    moe_intermediate_size: 32,
    shared_expert_intermediate_size: 96,
    num_experts_per_tok: 2,
    num_experts: 4,
    decoder_sparse_step: 1,
    norm_topk_prob: false,
  },
  qwen3_moe: {
    model_type: "qwen3_moe",
    ...LLAMA,
    hidden_act: "silu",
    rope_theta: 1000000.0,
    head_dim: 16,
    attention_bias: false,
    moe_intermediate_size: 32,
    num_experts_per_tok: 2,
    num_experts: 4,
    decoder_sparse_step: 1,
    norm_topk_prob: true,
  },
  deepseek: {
    model_type: "deepseek",
    ...LLAMA,
    ...DEEPSEEK_MOE,
    hidden_act: "silu",
    attention_bias: false,
    ...IDS,
  },
  deepseek_v2: {
    model_type: "deepseek_v2",
    ...LLAMA,
    num_key_value_heads: 4,
    ...DEEPSEEK_MOE,
    ...MLA,
    routed_scaling_factor: 1.0,
    scoring_func: "softmax",
    topk_method: "greedy",
    n_group: 1,
    topk_group: 1,
    attention_bias: false,
    rope_theta: 10000,
  },
  deepseek_v3: {
    model_type: "deepseek_v3",
    ...LLAMA,
    num_key_value_heads: 4,
    ...DEEPSEEK_MOE,
    ...MLA,
    q_lora_rank: 48,
    n_shared_experts: 1,
    norm_topk_prob: true,
    routed_scaling_factor: 2.5,
    scoring_func: "sigmoid",
    topk_method: "noaux_tc",
    n_group: 2,
    topk_group: 1,
    attention_bias: false,
    rope_theta: 10000,
  },
  minicpm: {
    model_type: "minicpm",
    ...LLAMA,
    hidden_act: "silu",
    scale_emb: 12,
    scale_depth: 1.4,
    dim_model_base: 256,
    tie_word_embeddings: true,
    num_experts: 4,
    num_experts_per_tok: 2,
    ...IDS,
  },
  llama4: {
    model_type: "llama4",
    text_config: {
      model_type: "llama4_text",
      ...LLAMA,
      intermediate_size: 32,
      intermediate_size_mlp: 96,
      head_dim: 16,
      hidden_act: "silu",
      rope_theta: 500000.0,
      rope_scaling: {
        factor: 8.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 64,
        rope_type: "llama3",
      },
      use_qk_norm: true,
      interleave_moe_layer_step: 1,
      num_experts_per_tok: 1,
      num_local_experts: 4,
      tie_word_embeddings: false,
    },
    tie_word_embeddings: false,
  },
};

/** The tiny config of a MoE type with one layer (two for the DeepSeek types), plus `extra`. */
export function tinyMoe(key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const c = MOE_TINY[key];
  if (c.text_config) {
    const tc = c.text_config as Record<string, unknown>;
    return { ...c, text_config: { ...tc, num_hidden_layers: 1, ...extra } };
  }
  const layers = "first_k_dense_replace" in c ? 2 : 1;
  return { ...c, num_hidden_layers: layers, ...extra };
}

/**
 * Converts a checkpoint of `key` written to disk (bf16 seeded values, `shards` files) with the
 * reference backend and with the WASM kernels in workers reading the files themselves in small
 * chunks (rows of a stacked expert tensor straddle experts and chunks); returns both outputs.
 */
export async function convertOnDisk(
  key: string,
  cfg: Record<string, unknown>,
  quant: string,
  shards = 2,
): Promise<Map<string, Uint8Array>[]> {
  const dir = await Deno.makeTempDir();
  try {
    await writeCheckpoint(dir, cfg, hfTensors(key, cfg), { dtype: "BF16", shards, seed: 5 });
    const outs: Map<string, Uint8Array>[] = [];
    for (const cpu of [false, true]) {
      const ckpt = await openCheckpoint(
        denoSource(),
        shards > 1 ? `${dir}/model.safetensors.index.json` : `${dir}/model.safetensors`,
      );
      const arch = ARCHITECTURES[key];
      const plan = planConversion({
        arch,
        config: fromDict(arch.configClass, cfg),
        scheme: getQuantization(quant),
        checkpoint: ckpt,
      });
      assertEquals([plan.problems, plan.warnings], [[], []]);
      const out = memoryOutput();
      const backend = cpu ? new WasmBackend() : new ReferenceBackend();
      await convertWeight({
        plan,
        checkpoint: ckpt,
        backend,
        output: out,
        ...(cpu ? { threads: 2, directReads: true, chunkBytes: 1000 } : {}),
      });
      await backend.close();
      ckpt.close();
      outs.push(out.files);
    }
    return outs;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
