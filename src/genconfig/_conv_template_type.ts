/**
 * The serialized conversation template of MLC (`Conversation` in
 * `python/mlc_llm/protocol/conversation_protocol.py`), field order = output order.
 *
 * @module
 */

/** One conversation template as written into `mlc-chat-config.json` (16 keys, in this order). */
export interface ConvTemplate {
  /** Template name. */
  readonly name: string;
  /** System prompt template with `{system_message}`. */
  readonly system_template: string;
  /** Default system message. */
  readonly system_message: string;
  /** Token ids prepended to the tokenized prompt, or null. */
  readonly system_prefix_token_ids: readonly number[] | null;
  /** Whether the first message after a system prompt gets its role prefix. */
  readonly add_role_after_system_message: boolean;
  /** Role name -> role prefix. */
  readonly roles: Readonly<Record<string, string>>;
  /** Role name -> message template (`{user_message}` ...). */
  readonly role_templates: Readonly<Record<string, string>>;
  /** Conversation history (always empty in a generated config). */
  readonly messages: readonly (readonly [string, string | null])[];
  /** Separators after user (0) and assistant (1) messages; one or two. */
  readonly seps: readonly string[];
  /** Between a role prefix and its content. */
  readonly role_content_sep: string;
  /** After a role prefix with empty content. */
  readonly role_empty_sep: string;
  /** Stop strings. */
  readonly stop_str: readonly string[];
  /** Stop token ids. */
  readonly stop_token_ids: readonly number[];
  /** Whether reasoning (`<think>`) is stripped from history. */
  readonly strip_reasoning_in_history: boolean;
  /** Function-calling string. */
  readonly function_string: string;
  /** Whether function calling is used. */
  readonly use_function_calling: boolean;
}
