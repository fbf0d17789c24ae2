/**
 * `--conv-template auto`: pick the registered conversation template whose rendering of a probe
 * conversation equals the model's own `chat_template` (tokenizer_config.json) rendered with
 * `@huggingface/jinja`. If none does, fail showing the nearest template and a diff.
 *
 * @module
 */
import type { Json } from "./_tokenizer_info.ts";
import { renderWithBudget, TemplateBudgetError } from "./_template_budget.ts";
import { CONV_TEMPLATE_DATA } from "./_conv_template_data.ts";
import type { ConvTemplate } from "./_conv_template_type.ts";
import { type ConvMessage, renderConversation } from "./conv_templates.ts";

/** The probe conversation: system, user, assistant, user (then the generation prompt). */
export const PROBE = {
  system: "You are a careful assistant.",
  user1: "What is the capital of France?",
  assistant1: "The capital of France is Paris.",
  user2: "And of Italy?",
} as const;

/** Error when no template matches (or the chat template cannot be used). */
export class AutoTemplateError extends Error {
  /** The nearest template, when there was a chat template to compare with. */
  readonly nearest?: string;
  /** Creates the error. */
  constructor(message: string, nearest?: string) {
    super(message);
    this.name = "AutoTemplateError";
    this.nearest = nearest;
  }
}

/** Result of the detection. */
export interface AutoTemplateResult {
  /** Chosen template name. */
  name: string;
  /** Every template that rendered identically (the first one is chosen). */
  matches: string[];
  /** Whether the match needed the no-system-prompt probe. */
  withoutSystem: boolean;
}

/** A special token of tokenizer_config.json: a string or an AddedToken dict. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Json).content === "string") {
    return (v as Json).content as string;
  }
  return undefined;
}

/**
 * Renders a HF chat template for `messages` with `add_generation_prompt`, within the default
 * rendering budget (a runaway template throws a `TemplateBudgetError`).
 *
 * @example
 * ```ts
 * import { renderChatTemplate } from "./auto_template.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(renderChatTemplate("{% for m in messages %}{{ m.content }};{% endfor %}", [{ role: "user", content: "a" }], {}), "a;");
 * ```
 */
export function renderChatTemplate(
  chatTemplate: string,
  messages: { role: string; content: string }[],
  tokenizerConfig: Json,
): string {
  const vars: Record<string, unknown> = {
    messages,
    add_generation_prompt: true,
    bos_token: tokenText(tokenizerConfig.bos_token) ?? "",
    eos_token: tokenText(tokenizerConfig.eos_token) ?? "",
    pad_token: tokenText(tokenizerConfig.pad_token) ?? "",
    unk_token: tokenText(tokenizerConfig.unk_token) ?? "",
  };
  return renderWithBudget(chatTemplate, vars);
}

/** `chat_template` of a tokenizer_config.json (a string, or the `default` of a named list). */
function chatTemplateOf(tokenizerConfig: Json): string | undefined {
  const ct = tokenizerConfig.chat_template;
  if (typeof ct === "string") return ct;
  if (Array.isArray(ct)) {
    const d = ct.find((x) => x && (x as Json).name === "default") as Json | undefined;
    if (d && typeof d.template === "string") return d.template;
  }
  return undefined;
}

/** Token id -> content, from tokenizer.json's vocab and added tokens. */
function idToToken(tokenizerJson: Json | null | undefined): Map<number, string> {
  const m = new Map<number, string>();
  const vocab = (tokenizerJson?.model as Json | undefined)?.vocab;
  if (Array.isArray(vocab)) vocab.forEach((e, i) => m.set(i, String(Array.isArray(e) ? e[0] : e)));
  else if (vocab && typeof vocab === "object") {
    for (const [k, v] of Object.entries(vocab as Json)) if (typeof v === "number") m.set(v, k);
  }
  for (const t of (tokenizerJson?.added_tokens as Json[] | undefined) ?? []) {
    if (typeof t.id === "number" && typeof t.content === "string") m.set(t.id, t.content);
  }
  return m;
}

/**
 * Line diff (LCS) of two texts, `-` for `a` only, `+` for `b` only. Newlines are shown as `⏎`.
 *
 * @example
 * ```ts
 * import { lineDiff } from "./auto_template.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(lineDiff("a\nb", "a\nc"), "  a⏎\n+ c\n- b");
 * ```
 */
export function lineDiff(a: string, b: string): string {
  const split = (s: string) => s.split(/(?<=\n)/).map((l) => l.replaceAll("\n", "⏎"));
  const x = split(a);
  const y = split(b);
  const dp = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      out.push(`  ${x[i++]}`);
      j++;
    } else if (j < y.length && (i >= x.length || dp[i][j + 1] >= dp[i + 1][j])) out.push(`+ ${y[j++]}`);
    else out.push(`- ${x[i++]}`);
  }
  return out.join("\n");
}

/** Length of the common prefix plus the common suffix (a cheap similarity). */
function similarity(a: string, b: string): number {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return p + s;
}

/**
 * Picks the conversation template for a model from its tokenizer_config.json `chat_template`.
 * Probe 1 uses a system prompt; if no template matches, probe 2 leaves it out (HF template
 * defaults vs. the template's default system message), which covers templates without a system
 * role (Gemma). A leading `bos_token` is ignored on both sides (MLC adds it as
 * `system_prefix_token_ids`). Ties are broken by how well the template's stop/prefix token ids
 * fit the tokenizer (`tokenizerJson`), then by `<think>` support, then by registry order.
 *
 * @example
 * ```ts ignore
 * import { detectConvTemplate } from "@mlc-deno/convert";
 * detectConvTemplate(tokenizerConfig, tokenizerJson).name; // e.g. "llama-3"
 * ```
 */
export function detectConvTemplate(
  tokenizerConfig: Json,
  tokenizerJson?: Json | null,
  templates: readonly ConvTemplate[] = CONV_TEMPLATE_DATA,
  configPath = "tokenizer_config.json",
): AutoTemplateResult {
  const chatTemplate = chatTemplateOf(tokenizerConfig);
  if (chatTemplate === undefined) {
    throw new AutoTemplateError(
      `--conv-template auto: ${configPath} has no "chat_template". Fix: pass a template name with ` +
        `--conv-template (for example llama-2, mistral_default, chatml).`,
    );
  }
  const bos = tokenText(tokenizerConfig.bos_token) ?? "";
  const strip = (s: string) => (bos !== "" && s.startsWith(bos) ? s.slice(bos.length) : s);
  const probes = [true, false].map((withSystem) => ({
    withSystem,
    reference: probeReference(chatTemplate, tokenizerConfig, withSystem, configPath, strip),
  }));
  const rendered = (t: ConvTemplate, withSystem: boolean) =>
    strip(renderConversation(t, PROBE_MESSAGES, withSystem ? PROBE.system : t.system_message));
  const score = tokenScore(chatTemplate, tokenizerConfig, tokenizerJson, bos);
  const thinks = chatTemplate.includes("<think>");
  for (const { withSystem, reference } of probes) {
    if (reference instanceof Error) continue;
    const matches = templates.filter((t) => rendered(t, withSystem) === reference);
    if (matches.length === 0) continue;
    const ranked = matches
      .map((t, i) => ({ t, i, s: score(t), th: t.strip_reasoning_in_history === thinks ? 1 : 0 }))
      .sort((a, b) => b.s - a.s || b.th - a.th || a.i - b.i);
    return { name: ranked[0].t.name, matches: ranked.map((r) => r.t.name), withoutSystem: !withSystem };
  }
  const first = probes.find((p) => !(p.reference instanceof Error));
  if (!first) {
    throw new AutoTemplateError(
      `--conv-template auto: the chat_template of ${configPath} could not be rendered ` +
        `(${(probes[0].reference as Error).message}). Fix: pass a template name with --conv-template.`,
    );
  }
  throw nearestTemplateError(
    first.reference as string,
    templates,
    (t) => rendered(t, first.withSystem),
    configPath,
  );
}

/** The probe conversation as our templates see it (the reply left open). */
const PROBE_MESSAGES: ConvMessage[] = [
  ["user", PROBE.user1],
  ["assistant", PROBE.assistant1],
  ["user", PROBE.user2],
  ["assistant", null],
];

/** The chat_template's rendering of the probe (with or without a system message), or why it failed. */
function probeReference(
  chatTemplate: string,
  tokenizerConfig: Json,
  withSystem: boolean,
  configPath: string,
  strip: (s: string) => string,
): string | Error {
  const hf = [
    ...(withSystem ? [{ role: "system", content: PROBE.system }] : []),
    { role: "user", content: PROBE.user1 },
    { role: "assistant", content: PROBE.assistant1 },
    { role: "user", content: PROBE.user2 },
  ];
  try {
    return strip(renderChatTemplate(chatTemplate, hf, tokenizerConfig));
  } catch (e) {
    if (e instanceof TemplateBudgetError) {
      throw new AutoTemplateError(
        `--conv-template auto: the chat_template of ${configPath} was stopped while rendering a 4-message ` +
          `probe conversation: ${e.message}. A chat template that does this loops or floods. Fix: pass a ` +
          `template name with --conv-template.`,
      );
    }
    return e as Error;
  }
}

/**
 * How well a template's stop and system-prefix token ids fit the tokenizer: +1 for each id that
 * is the eos/bos token, one of the template's stop strings, or a special token the chat template
 * itself writes; -1 for each other id (0 without a tokenizer.json).
 */
function tokenScore(
  chatTemplate: string,
  tokenizerConfig: Json,
  tokenizerJson: Json | null | undefined,
  bos: string,
): (t: ConvTemplate) => number {
  const eos = tokenText(tokenizerConfig.eos_token) ?? "";
  const tokens = idToToken(tokenizerJson);
  const special = new Set(
    ((tokenizerJson?.added_tokens as Json[] | undefined) ?? []).filter((t) => t.special === true).map((t) =>
      t.id
    ),
  );
  const fits = (id: number, extra: readonly string[]) => {
    const c = tokens.get(id);
    if (c === undefined) return false;
    return c === eos || c === bos || extra.includes(c) || (special.has(id) && chatTemplate.includes(c));
  };
  return (t) => {
    if (tokens.size === 0) return 0;
    const ids = [...t.stop_token_ids, ...(t.system_prefix_token_ids ?? [])];
    return ids.reduce((s, id) => s + (fits(id, t.stop_str) ? 1 : -1), 0);
  };
}

/** No template matches: the nearest one by similarity, with a diff of the probe. */
function nearestTemplateError(
  ref: string,
  templates: readonly ConvTemplate[],
  rendered: (t: ConvTemplate) => string,
  configPath: string,
): AutoTemplateError {
  let best = templates[0];
  let bestSim = -1;
  for (const t of templates) {
    const sim = similarity(ref, rendered(t));
    if (sim > bestSim) [best, bestSim] = [t, sim];
  }
  return new AutoTemplateError(
    `--conv-template auto: no registered conversation template renders like the chat_template of ` +
      `${configPath}. Nearest: ${best.name}. Diff of the probe conversation ` +
      `(- chat_template, + ${best.name}):\n${lineDiff(ref, rendered(best))}\n` +
      `Fix: pass --conv-template ${best.name} (or another registered name) explicitly if the difference ` +
      `is acceptable.`,
    best.name,
  );
}
