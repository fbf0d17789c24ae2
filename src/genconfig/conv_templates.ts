/**
 * MLC's conversation templates as data: lookup by name (with "did you mean" suggestions) and
 * MLC's `Conversation.as_prompt` rendering.
 *
 * @module
 */
import { CONV_TEMPLATE_DATA } from "./_conv_template_data.ts";
import type { ConvTemplate } from "./_conv_template_type.ts";
import { closestNames } from "../suggest.ts";

export type { ConvTemplate };

/** All registered templates by name, in MLC's registration order. */
export const CONV_TEMPLATES: ReadonlyMap<string, ConvTemplate> = new Map(
  CONV_TEMPLATE_DATA.map((t) => [t.name, t]),
);

/**
 * The registered template names closest to `name` (prefix/substring matches first, then by
 * edit distance).
 *
 * @example
 * ```ts
 * import { closestTemplateNames } from "./conv_templates.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(closestTemplateNames("llama3")[0], "llama-3");
 * ```
 */
export function closestTemplateNames(name: string, count = 5): string[] {
  return closestNames(name, CONV_TEMPLATES.keys(), { count });
}

/** Error for an unknown conversation template name. */
export class UnknownTemplateError extends Error {
  /** The closest registered names. */
  readonly suggestions: string[];
  /** Creates the error for `name`. */
  constructor(name: string) {
    const suggestions = closestTemplateNames(name);
    super(
      `Unknown conversation template "${name}". Closest registered templates: ${suggestions.join(", ")}. ` +
        `Fix: pass one of the ${CONV_TEMPLATES.size} registered names to --conv-template ` +
        `(or "auto" to detect it from tokenizer_config.json's chat_template).`,
    );
    this.name = "UnknownTemplateError";
    this.suggestions = suggestions;
  }
}

/**
 * Looks up a registered template. Unlike MLC (which only warns and then fails in pydantic), an
 * unknown name is an error that lists the closest names.
 *
 * @example
 * ```ts
 * import { getConvTemplate } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(getConvTemplate("redpajama_chat").roles.user, "<human>");
 * ```
 */
export function getConvTemplate(name: string): ConvTemplate {
  const t = CONV_TEMPLATES.get(name);
  if (!t) throw new UnknownTemplateError(name);
  return t;
}

/** A message of a conversation to render: role and content (`null`: the empty generation turn). */
export type ConvMessage = readonly [role: string, content: string | null];

/**
 * MLC's `Conversation.as_prompt` for text messages: the system prompt (with `system_message`
 * substituted, omitted when empty), then every message as role prefix + filled role template +
 * separator; a `null` content renders `roles[role] + role_empty_sep`. Function-string
 * placeholders become `function_string` (last one) or `""`.
 *
 * @example
 * ```ts
 * import { getConvTemplate, renderConversation } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * deepStrictEqual(renderConversation(getConvTemplate("redpajama_chat"), [["user", "Hi"], ["assistant", null]]), "<human>: Hi\n<bot>:");
 * ```
 */
export function renderConversation(
  t: ConvTemplate,
  messages: readonly ConvMessage[],
  systemMessage: string = t.system_message,
): string {
  const system = t.system_template.replaceAll("{system_message}", systemMessage);
  const seps = t.seps.length === 1 ? [t.seps[0], t.seps[0]] : t.seps;
  const placeholder: Record<string, string> = {
    user: "{user_message}",
    assistant: "{assistant_message}",
    tool: "{tool_message}",
    system: "{system_message}",
  };
  let out = system;
  messages.forEach(([role, content], i) => {
    if (!(role in t.roles)) throw new Error(`Role "${role}" is not a supported role of template ${t.name}`);
    const sep = seps[role === "assistant" ? 1 : 0];
    if (content === null) {
      out += t.roles[role] + t.role_empty_sep;
      return;
    }
    const prefix = !t.add_role_after_system_message && system !== "" && i === 0
      ? ""
      : t.roles[role] + t.role_content_sep;
    out += prefix + t.role_templates[role].replaceAll(placeholder[role], content) + sep;
  });
  const fn = "{function_string}";
  const last = out.lastIndexOf(fn);
  if (last >= 0) out = out.slice(0, last) + t.function_string + out.slice(last + fn.length);
  return out.replaceAll(fn, "");
}
