/**
 * mlc-convert: Hugging Face checkpoints to MLC LLM / WebLLM weights and configs, without
 * Python or TVM. Byte-identical to `mlc_llm convert_weight` (CPU semantics).
 *
 * The pipeline reads like what it is: source reader ({@link openWeights}) -> architecture
 * mapping ({@link ARCHITECTURES}, {@link planConversion}) -> quantizer backend
 * ({@link ReferenceBackend}, {@link selectBackend}) -> tensor cache writer
 * ({@link convertWeight}). I/O is injected ({@link SourceStore}, {@link OutputStore}): files,
 * memory, HTTP or browser handles.
 *
 * The API, by task: convert, gen_config, verify, stores, backends and devices, registries,
 * formats, errors. More entries: `@mlc-deno/convert/hub` (the Hugging Face Hub),
 * `@mlc-deno/convert/web` (in a web page), `@mlc-deno/convert/cli` (the command line).
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

// convert: model -> checkpoint -> plan -> conversion
export {
  loadModelConfig,
  locateConfig,
  type OpenedModel,
  openWeights,
  resolveConfigPath,
} from "./src/model.ts";
export { type Checkpoint, openCheckpoint, type SourceTensor } from "./src/checkpoint.ts";
export type { SourceFormat } from "./src/formats/registry.ts";
export {
  type ConversionPlan,
  planConversion,
  type PlannedOutput,
  type PlannedParam,
  type PlanOptions,
} from "./src/plan.ts";
export {
  type ConvertOptions,
  type ConvertProgress,
  type ConvertResult,
  type ConvertStats,
  convertWeight,
} from "./src/convert.ts";

// gen_config: mlc-chat-config.json, conversation templates, tokenizer files
export {
  CONV_TEMPLATES,
  type ConvMessage,
  type ConvTemplate,
  detectConvTemplate,
  genConfig,
  type GenConfigLog,
  type GenConfigOptions,
  type GenConfigOutput,
  type GenConfigResult,
  type GenConfigSource,
  getConvTemplate,
  type ModelConfigOverrides,
  renderConversation,
  TOKENIZER_FILES,
} from "./src/genconfig/mod.ts";
export { sentencePieceToTokenizerJson } from "./src/tokenizer/sentencepiece.ts";

// verify: shards, tensors against the source
export {
  checkShards,
  formatVerifyReport,
  readTensorCache,
  type ShardCheck,
  type TensorCheck,
  verifyConversion,
  type VerifyOptions,
  type VerifyReport,
  verifyReportJson,
  type VerifySummary,
} from "./src/verify.ts";
export {
  createVerifyKernels,
  VERIFY_DEVICES,
  type VerifyDeviceName,
  type VerifyKernels,
} from "./src/verify_kernels.ts";

// stores: where bytes come from and go to
export type { FileSink, OutputStore, RandomAccessFile, SourceStore } from "./src/io/types.ts";
export { type MemoryOutput, memoryOutput, memorySource } from "./src/io/memory.ts";
export { denoOutput, type DenoOutputOptions, type DenoOutputStore, denoSource } from "./src/io/deno_fs.ts";

// backends and devices: the quantizer
export type { QuantBackend } from "./src/quant/backend.ts";
export { ReferenceBackend } from "./src/quant/reference.ts";
export { WasmBackend, WasmKernels } from "./src/kernels/wasm.ts";
export {
  createWebGpuBackend,
  describeWebGpuAdapter,
  type WebGpuAdapterDescription,
  WebGpuBackend,
  type WebGpuBackendOptions,
} from "./src/webgpu/backend.ts";
export { type DeviceName, DEVICES, selectBackend } from "./src/device.ts";

// registries: architectures, quantizations, what converts to what
export { ARCHITECTURES, detectArchitecture } from "./src/arch/registry.ts";
export type { Architecture, ArchParam } from "./src/arch/types.ts";
export type { ModelConfig } from "./src/arch/config.ts";
export {
  getQuantization,
  type GroupQuantScheme,
  IMPORT_QUANTIZATIONS,
  type ImportScheme,
  type NoQuantScheme,
  QUANTIZATIONS,
  type QuantScheme,
  UNSUPPORTED_QUANTIZATIONS,
} from "./src/quant/schemes.ts";
export { isSupported, MLC_QUANT_KINDS, supportTableMarkdown } from "./src/support.ts";

// formats: the tensor cache, safetensors, dtypes
export type { CacheMetadata, CacheRecord, ShardRecord, TensorCache } from "./src/cache_json.ts";
export {
  encodeSafetensors,
  readSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from "./src/safetensors.ts";
export {
  bf16ToNumber,
  type DType,
  f16ToNumber,
  type FloatDType,
  itemSize,
  numberToF16,
} from "./src/dtype.ts";

// errors a caller may catch
export { ConfigError } from "./src/arch/config.ts";
export { NonFiniteError, type NonFiniteTensor } from "./src/quant/nonfinite.ts";
export { SafetensorsError } from "./src/safetensors.ts";
export { OutputBusyError, OutputNotEmptyError } from "./src/io/staged_dir.ts";
export {
  AutoTemplateError,
  GenConfigError,
  TokenizerFileError,
  UnknownTemplateError,
} from "./src/genconfig/mod.ts";
export { SentencePieceError } from "./src/tokenizer/sentencepiece.ts";

// types the signatures above refer to
export type { ShardLayout } from "./src/shard_layout.ts";
export type { GroupQuantJob, GroupQuantParams, TieRounding } from "./src/quant/backend.ts";
export type { QuantLayout } from "./src/quant/schemes.ts";
export type { AutoTemplateResult, Json, SentencePieceConverter } from "./src/genconfig/mod.ts";
export type { SentencePieceConvertOptions, SentencePieceFlavor } from "./src/tokenizer/sentencepiece.ts";
export type { DequantJob, DequantMatmulJob } from "./src/webgpu/backend.ts";
export type { ConvertKernel, KernelExports } from "./src/kernels/wasm.ts";
export type { Md5StreamState } from "./src/kernels/md5.ts";
export type { Dim, HostTensor, ParamTransform } from "./src/arch/types.ts";
export type { ConfigClass, ConfigField, ConfigLog } from "./src/arch/config.ts";
