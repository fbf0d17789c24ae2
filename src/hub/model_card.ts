/**
 * The README.md (model card) an upload adds: where the weights come from, the quantization,
 * the tool, the conversion's numbers (from tensor-cache.json and mlc-chat-config.json), and how
 * to load them in WebLLM and MLC LLM.
 *
 * @module
 */

/** What the card says. */
export interface ModelCardInfo {
  /** The repository the card is for (`owner/name`). */
  repo: string;
  /** The source model (`owner/name`), when known. */
  baseModel?: string;
  /** The source revision (a commit sha or branch), when known. */
  baseRevision?: string;
  /** The tool's version. */
  toolVersion: string;
  /** tensor-cache.json (or ndarray-cache.json), parsed. */
  cache?: { metadata?: Record<string, unknown>; records?: { nbytes?: number }[] };
  /** mlc-chat-config.json, parsed. */
  chatConfig?: Record<string, unknown>;
}

const str = (v: unknown): string | undefined => typeof v === "string" && v ? v : undefined;
const num = (v: unknown): number | undefined => typeof v === "number" && Number.isFinite(v) ? v : undefined;

/**
 * The model card's Markdown text (YAML front matter first, as the Hub reads it).
 *
 * @example
 * ```ts
 * import { modelCard } from "@mlc-deno/convert/hub";
 * import { deepStrictEqual } from "node:assert/strict";
 * const md = modelCard({ repo: "me/x-MLC", baseModel: "org/x", toolVersion: "0.1.0",
 *   chatConfig: { quantization: "q4f16_1", model_type: "llama" } });
 * deepStrictEqual(md.includes("base_model: org/x"), true);
 * ```
 */
export function modelCard(info: ModelCardInfo): string {
  const cc = info.chatConfig ?? {};
  const meta = info.cache?.metadata ?? {};
  const quant = str(cc.quantization) ?? "unknown";
  const shards = info.cache?.records ?? [];
  const bytes = shards.reduce((a, r) => a + (num(r.nbytes) ?? 0), 0);
  const base = info.baseModel;
  const src = base
    ? `[${base}](https://huggingface.co/${base})${
      info.baseRevision ? ` at revision \`${info.baseRevision}\`` : ""
    }`
    : "not recorded";
  const rows: [string, string | number | undefined][] = [
    ["Source model", src],
    ["Model type", str(cc.model_type)],
    ["Quantization", `\`${quant}\``],
    ["Conversation template", str((cc.conv_template as Record<string, unknown> | undefined)?.name)],
    ["Context window", num(cc.context_window_size)],
    ["Parameters (ParamSize)", num(meta.ParamSize)],
    ["Weight bytes (ParamBytes)", num(meta.ParamBytes)],
    ["Bits per parameter", num(meta.BitsPerParam)?.toFixed(3)],
    ["Shards", shards.length ? `${shards.length} (${bytes} bytes)` : undefined],
    [
      "Converted with",
      `mlc-convert ${info.toolVersion} (a TypeScript port of \`mlc_llm convert_weight\` / \`gen_config\`)`,
    ],
  ];
  const front = [
    "---",
    "library_name: mlc-llm",
    ...(base ? [`base_model: ${base}`, "base_model_relation: quantized"] : []),
    "tags:",
    "  - mlc-llm",
    "  - web-llm",
    "---",
  ];
  const id = info.repo.split("/").pop()!;
  return [
    ...front,
    "",
    `# ${id}`,
    "",
    `MLC LLM weights${
      base ? ` of ${base}` : ""
    } in \`${quant}\` quantization, for [MLC LLM](https://github.com/mlc-ai/mlc-llm) and [WebLLM](https://github.com/mlc-ai/web-llm).`,
    "",
    "| | |",
    "|---|---|",
    ...rows.filter(([, v]) => v !== undefined).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    "## Use with WebLLM",
    "",
    "```js",
    'import { CreateMLCEngine, prebuiltAppConfig } from "@mlc-ai/web-llm";',
    "const appConfig = {",
    "  model_list: [{",
    `    model: "https://huggingface.co/${info.repo}",`,
    `    model_id: "${id}",`,
    '    model_lib: "<URL of a WebGPU model library (.wasm) for this model type and quantization>",',
    "  }],",
    "};",
    `const engine = await CreateMLCEngine("${id}", { appConfig });`,
    "```",
    "",
    "## Use with MLC LLM",
    "",
    "```sh",
    `mlc_llm chat HF://${info.repo}`,
    `mlc_llm serve HF://${info.repo}`,
    "```",
    "",
    "The model library (compiled model code) is not part of this repository: use a prebuilt one for",
    `this model type and \`${quant}\`, or compile it with \`mlc_llm compile\`.`,
    "",
  ].join("\n");
}
