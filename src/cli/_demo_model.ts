/**
 * The demo's model, generated in code (the published package ships no model files): a 2-layer
 * Llama with deterministic random bf16 weights (seed 42) and a small SentencePiece BPE tokenizer
 * (1400 pieces, byte fallback), written like `save_pretrained`.
 *
 * @module
 */
import { llamaHfTensors, tensorData } from "../gen_tensors.ts";
import { encodeSafetensorsHeader } from "../safetensors.ts";
import { DEMO_TOKENIZER_MODEL_BASE64 } from "./_demo_tokenizer.ts";

/** The demo model's config.json. */
export const DEMO_MODEL_CONFIG: Readonly<Record<string, unknown>> = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 64,
  intermediate_size: 176,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 2,
  rms_norm_eps: 1e-5,
  vocab_size: 1400,
  max_position_embeddings: 2048,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  bos_token_id: 1,
  eos_token_id: 2,
};

const TOKENIZER_CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: "<s>",
  eos_token: "</s>",
  unk_token: "<unk>",
  legacy: false,
};

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * The files of the demo model, by name (the same bytes on every call).
 *
 * @example
 * ```ts
 * import { demoModelFiles } from "./_demo_model.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(demoModelFiles().get("model.safetensors")!.length, 545536);
 * ```
 */
export function demoModelFiles(): Map<string, Uint8Array> {
  const tensors = llamaHfTensors(DEMO_MODEL_CONFIG).sort((a, b) => a.name < b.name ? -1 : 1);
  const datas = tensors.map((t) => tensorData(t, "BF16", 42));
  const header = encodeSafetensorsHeader(
    tensors.map((t, i) => ({ name: t.name, stDtype: "BF16", shape: t.shape, nbytes: datas[i].length })),
    { format: "pt" },
  );
  const weights = new Uint8Array(header.length + datas.reduce((a, d) => a + d.length, 0));
  weights.set(header);
  let o = header.length;
  for (const d of datas) {
    weights.set(d, o);
    o += d.length;
  }
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + "\n");
  return new Map([
    ["config.json", text(DEMO_MODEL_CONFIG)],
    ["model.safetensors", weights],
    ["tokenizer.model", decodeBase64(DEMO_TOKENIZER_MODEL_BASE64)],
    ["tokenizer_config.json", text(TOKENIZER_CONFIG)],
  ]);
}

/**
 * Writes the demo model into `dir` (created if missing). Refuses a directory that holds other
 * files than the model's own, so nothing of the user's is overwritten or read as part of it.
 *
 * @example
 * ```ts ignore
 * import { writeDemoModel } from "./_demo_model.ts";
 * await writeDemoModel("dist/tiny-llama");
 * ```
 */
export async function writeDemoModel(dir: string): Promise<void> {
  const files = demoModelFiles();
  await Deno.mkdir(dir, { recursive: true });
  const others: string[] = [];
  for await (const e of Deno.readDir(dir)) if (!files.has(e.name)) others.push(e.name);
  if (others.length) {
    throw new Error(
      `${dir} holds files that are not the demo model's (${others.sort().join(", ")}): ` +
        "choose another --model directory",
    );
  }
  for (const [name, bytes] of files) await Deno.writeFile(`${dir}/${name}`, bytes);
}
