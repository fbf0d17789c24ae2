/**
 * What is supported: architectures x quantizations, derived from the registries (the README's
 * table is generated from this and kept true by a test that converts every cell).
 *
 * @module
 */
import { ARCHITECTURES } from "./arch/registry.ts";
import { QUANTIZATIONS } from "./quant/schemes.ts";
import { AWQ_ARCHITECTURES } from "./quant/awq.ts";
import { BLOCK_SCALE_ARCHITECTURES } from "./quant/import_params.ts";

/**
 * Whether `arch` can be converted with quantization `quant`.
 *
 * @example
 * ```ts
 * import { isSupported } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(isSupported("llama", "q4f16_1"), true);
 * deepStrictEqual(isSupported("mixtral", "q4f16_0"), false); // no KN layout for stacked experts
 * ```
 */
export function isSupported(arch: string, quant: string): boolean {
  const a = ARCHITECTURES[arch];
  const q = QUANTIZATIONS[quant];
  if (!a || !q || (q.kind !== "no-quant" && q.kind !== "group-quant") || !a.quantKinds.includes(q.kind)) {
    return false;
  }
  return !(q.kind === "group-quant" && q.layout === "KN" && a.refusesKnLayout === "always");
}

/**
 * The architectures x quantizations table in Markdown.
 *
 * @example
 * ```ts
 * import { supportTableMarkdown } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(supportTableMarkdown().split("\n")[0].startsWith("| model type |"), true);
 * ```
 */
export function supportTableMarkdown(): string {
  const quants = Object.keys(QUANTIZATIONS);
  const lines = [
    `| model type | HF model_type | ${quants.join(" | ")} |`,
    `|---|---|${quants.map(() => ":-:").join("|")}|`,
  ];
  for (const [key, a] of Object.entries(ARCHITECTURES)) {
    const kn = (q: string) => {
      const s = QUANTIZATIONS[q];
      return s.kind === "group-quant" && s.layout === "KN";
    };
    const cells = quants.map((q) =>
      isSupported(key, q) ? (a.refusesKnLayout === "moe" && kn(q) ? "✓ (dense)" : "✓") : "–"
    );
    const hf = a.hfModelTypes.length ? a.hfModelTypes.map((t) => `\`${t}\``).join(", ") : "(`--model-type`)";
    lines.push(`| \`${key}\` | ${hf} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * MLC's quantization kinds per model type (`python/mlc_llm/model/model.py`, the flags of
 * `make_quantization_functions`): `N` no-quant, `G` group-quant, `F` ft-quant, `A` awq, `P`
 * per-tensor-quant, `B` block-scale-quant. We convert the `N` and `G` kinds, and import `A`
 * (AutoAWQ checkpoints) and `B` (FP8 block-scale checkpoints) where the import is wired; `F` needs
 * CUDA preprocessing and `P` calibration.
 */
export const MLC_QUANT_KINDS: Readonly<Record<string, string>> = {
  llama: "NGFAP",
  mistral: "NGF",
  qwen2: "NGF",
  qwen3: "NGFB",
  gemma: "NG",
  gemma2: "NG",
  phi3: "NGF",
  phi: "NGF",
  "phi-msft": "NGF",
  gpt_neox: "NGF",
  gpt2: "NGF",
  gemma3: "NG",
  gemma3_text: "NG",
  starcoder2: "NGF",
  gpt_bigcode: "NGF",
  stablelm: "NGF",
  olmo: "NGFAP",
  olmo2: "NGFP",
  internlm: "NGF",
  internlm2: "NGF",
  cohere: "NGF",
  chatglm: "NG",
  baichuan: "NGF",
  orion: "NG",
  qwen: "NGF",
  nemotron: "NGFAP",
  gptj: "NGF",
  rwkv5: "NGF",
  rwkv6: "NG",
  // mixtral: model.py registers awq, but its quantize function raises "AWQ is not implemented
  // for Mixtral models." (awq_unsupported_message), so A is not an allowed kind
  mixtral: "NGFP",
  qwen2_moe: "NGF",
  qwen3_moe: "NGFB",
  deepseek: "NGF",
  deepseek_v2: "NGF",
  deepseek_v3: "NGFB",
  minicpm: "NGF",
  "qwen3-embedding": "NGFB",
  eagle: "NGFA",
  medusa: "N",
  bert: "NGF",
  "bert-bge": "NGF",
  llama4: "NGFP",
  qwen3_5: "NGF",
  qwen3_5_text: "NGF",
  llava: "NGA",
  ministral3: "NGFB",
  phi3_v: "NGF",
};

/** The kinds' columns: letter, MLC's kind name, the quantizations MLC offers under it. */
const KIND_COLUMNS: readonly [string, string][] = [
  ["N", "no-quant"],
  ["G", "group-quant"],
  ["F", "ft-quant (`q4f16_ft`)"],
  ["A", "awq (`q4f16_autoawq`)"],
  ["P", "per-tensor (`e4m3_e4m3_f16`, ...)"],
  ["B", "block-scale (`fp8_e4m3fn_bf16_block_scale`, ...)"],
];

/**
 * The model types x MLC quantization kinds table in Markdown: `✓` converted (or imported) here, `MLC only`
 * allowed by MLC but not offered here, `–` not allowed by MLC for that type.
 *
 * @example
 * ```ts
 * import { mlcKindsTableMarkdown } from "./support.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(mlcKindsTableMarkdown().split("\n")[2].startsWith("| `llama` | ✓ | ✓ | MLC only |"), true);
 * ```
 */
export function mlcKindsTableMarkdown(): string {
  const lines = [
    `| model type | ${KIND_COLUMNS.map(([, n]) => n).join(" | ")} |`,
    `|---|${KIND_COLUMNS.map(() => ":-:").join("|")}|`,
  ];
  for (const [key, a] of Object.entries(ARCHITECTURES)) {
    const mlc = MLC_QUANT_KINDS[key] ?? "";
    const cells = KIND_COLUMNS.map(([k]) => {
      const ours = (k === "N" && a.quantKinds.includes("no-quant")) ||
        (k === "G" && a.quantKinds.includes("group-quant")) ||
        (k === "A" && AWQ_ARCHITECTURES.has(key)) || (k === "B" && BLOCK_SCALE_ARCHITECTURES.has(key));
      return ours ? "✓" : mlc.includes(k) ? "MLC only" : "–";
    });
    lines.push(`| \`${key}\` | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
