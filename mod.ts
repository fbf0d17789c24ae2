/**
 * mlc-convert: Hugging Face checkpoints to MLC LLM / WebLLM weights and configs, without
 * Python or TVM. Byte-identical to `mlc_llm convert_weight` (CPU semantics).
 *
 * The pipeline reads like what it is: source reader ({@link openCheckpoint}) -> architecture
 * mapping ({@link ARCHITECTURES}, {@link planConversion}) -> quantizer backend
 * ({@link ReferenceBackend}, {@link selectBackend}) -> cache writer ({@link TensorCacheWriter}).
 * I/O is injected ({@link SourceStore}, {@link OutputStore}): files, memory or anything else.
 *
 * @example
 * ```ts ignore
 * import { convertWeight, denoOutput, denoSource, getQuantization, loadModelConfig, openWeights,
 *   planConversion, ReferenceBackend } from "@mlc-deno/convert";
 * const store = denoSource();
 * const model = await loadModelConfig(store, "models/TinyLlama");
 * const { checkpoint } = await openWeights(store, model.dir);
 * const plan = planConversion({ arch: model.arch, config: model.config,
 *   scheme: getQuantization("q4f16_1"), checkpoint });
 * const output = denoOutput("out");
 * await convertWeight({ plan, checkpoint, backend: new ReferenceBackend(), output });
 * await output.close(); // (stops its I/O worker)
 * ```
 *
 * @module
 */
export * from "./src/pyjson.ts";
export * from "./src/dtype.ts";
export * from "./src/quant/schemes.ts";
export * from "./src/quant/backend.ts";
export * from "./src/quant/reference.ts";
export { countNonFinite, NonFiniteError, type NonFiniteTensor } from "./src/quant/nonfinite.ts";
export * from "./src/arch/_types.ts";
export {
  type ConfigClass,
  ConfigError,
  type ConfigField,
  type ConfigLog,
  fromDict,
  type ModelConfig,
  REQUIRED,
} from "./src/arch/_config.ts";
export * from "./src/arch/registry.ts";
export * from "./src/safetensors.ts";
export * from "./src/checkpoint.ts";
export * from "./src/io/types.ts";
export * from "./src/io/memory.ts";
export * from "./src/io/deno_fs.ts";
export * from "./src/io/staged_dir.ts";
export * from "./src/cache_writer.ts";
export * from "./src/cache_json.ts";
export { layoutShards, SHARD_CAP, type ShardLayout, storedBytes } from "./src/shard_layout.ts";
export * from "./src/plan.ts";
export * from "./src/convert.ts";
export * from "./src/model.ts";
export * from "./src/device.ts";
export * from "./src/support.ts";
export {
  defaultKernels,
  dequantize,
  dequantMatmul,
  KERNEL_MAX_PAGES,
  kernelsBytes,
  kernelsMemory,
  kernelsModule,
  WasmBackend,
  WasmKernels,
} from "./src/kernels/wasm.ts";
export type { ConvertKernel, KernelExports } from "./src/kernels/wasm.ts";
export { type Md5StreamState, md5StreamState } from "./src/kernels/_md5.ts";
export * from "./src/webgpu/backend.ts";
export * from "./src/genconfig/mod.ts";
export {
  detectSentencePieceFlavor,
  MODEL_TYPE,
  parseSentencePieceModel,
  PIECE_TYPE,
  SentencePieceError,
  sentencePieceToTokenizer,
  sentencePieceToTokenizerJson,
} from "./src/tokenizer/sentencepiece.ts";
export type {
  SentencePiece,
  SentencePieceConvertOptions,
  SentencePieceFlavor,
  SentencePieceModel,
} from "./src/tokenizer/sentencepiece.ts";
export * from "./src/verify.ts";
export {
  createVerifyKernels,
  dequantizeReference,
  dequantMatmulReference,
  VERIFY_DEVICES,
} from "./src/verify_kernels.ts";
export type { VerifyDeviceName, VerifyKernels } from "./src/verify_kernels.ts";
