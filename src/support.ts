/**
 * What is supported: architectures x quantizations, derived from the registries (the README's
 * table is generated from this and kept true by a test that converts every cell).
 *
 * @module
 */
import { ARCHITECTURES } from "./arch/registry.ts";
import { QUANTIZATIONS } from "./quant/schemes.ts";

/**
 * Whether `arch` can be converted with quantization `quant`.
 *
 * @example
 * ```ts
 * import { isSupported } from "./support.ts";
 * isSupported("llama", "q4f16_1"); // true
 * ```
 */
export function isSupported(arch: string, quant: string): boolean {
  const a = ARCHITECTURES[arch];
  const q = QUANTIZATIONS[quant];
  return !!a && !!q && a.quantKinds.includes(q.kind);
}

/**
 * The architectures x quantizations table in Markdown.
 *
 * @example
 * ```ts
 * import { supportTableMarkdown } from "./support.ts";
 * supportTableMarkdown().split("\n")[0].startsWith("| model type |"); // true
 * ```
 */
export function supportTableMarkdown(): string {
  const quants = Object.keys(QUANTIZATIONS);
  const lines = [
    `| model type | HF model_type | ${quants.join(" | ")} |`,
    `|---|---|${quants.map(() => ":-:").join("|")}|`,
  ];
  for (const [key, a] of Object.entries(ARCHITECTURES)) {
    const cells = quants.map((q) => (isSupported(key, q) ? "✓" : "–"));
    lines.push(`| \`${key}\` | ${a.hfModelTypes.map((t) => `\`${t}\``).join(", ")} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
