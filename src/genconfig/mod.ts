/**
 * `gen_config`: mlc-chat-config.json and the tokenizer files, as MLC LLM writes them.
 *
 * @module
 */
export { genConfig, GenConfigError } from "./gen_config.ts";
export type { GenConfigOptions, GenConfigResult } from "./gen_config.ts";
export type { GenConfigOutput, GenConfigSource } from "./_io.ts";
export type { GenConfigLog } from "./_log.ts";
export type { ModelConfigOverrides } from "./_chat_config.ts";
export { buildModelConfig, MLC_CHAT_CONFIG_VERSION } from "./_chat_config.ts";
export {
  closestTemplateNames,
  CONV_TEMPLATES,
  getConvTemplate,
  renderConversation,
  UnknownTemplateError,
} from "./conv_templates.ts";
export type { ConvMessage, ConvTemplate } from "./conv_templates.ts";
export { AutoTemplateError, detectConvTemplate, renderChatTemplate } from "./auto_template.ts";
export type { AutoTemplateResult } from "./auto_template.ts";
export { detectTokenizerInfo } from "./_tokenizer_info.ts";
export type { Json, TokenizerInfo } from "./_tokenizer_info.ts";
export { hfTokenizerLength, TOKENIZER_FILES, TokenizerFileError } from "./_tokenizer_files.ts";
export type { SentencePieceConverter } from "./_tokenizer_files.ts";
