/**
 * `--device` choices: a registry of backend factories. `auto` picks a real GPU adapter when
 * there is one (never a software fallback such as llvmpipe), else `cpu` (WASM SIMD), else
 * `reference`.
 *
 * @module
 */
import type { QuantBackend } from "./quant/backend.ts";
import { ReferenceBackend } from "./quant/reference.ts";
import { WasmBackend } from "./kernels/wasm.ts";
import { createWebGpuBackend, describeWebGpuAdapter } from "./webgpu/backend.ts";

/** A device name accepted by `--device`. */
export type DeviceName = "auto" | "cpu" | "webgpu" | "reference";

/** Factories by device; each returns undefined when the device is unavailable, with a reason. */
const FACTORIES: Record<
  Exclude<DeviceName, "auto">,
  (opts: { allowFallback: boolean }) => Promise<
    { backend?: QuantBackend; reason?: string }
  >
> = {
  reference: () => Promise.resolve({ backend: new ReferenceBackend() }),
  cpu: () => {
    try {
      return Promise.resolve({ backend: new WasmBackend() });
    } catch (e) {
      return Promise.resolve({ reason: `WebAssembly SIMD unavailable (${(e as Error).message})` });
    }
  },
  webgpu: async ({ allowFallback }) => {
    const desc = await describeWebGpuAdapter().catch(() => undefined);
    if (!desc) return { reason: "no WebGPU adapter" };
    if (desc.isFallbackAdapter && !allowFallback) {
      return { reason: `only a software fallback adapter (${desc.summary})` };
    }
    const backend = await createWebGpuBackend({ allowFallback });
    return backend ? { backend } : { reason: "the adapter refused to create a device" };
  },
};

/** Valid `--device` values. */
export const DEVICES: readonly DeviceName[] = ["auto", "cpu", "webgpu", "reference"];

/**
 * Creates the backend for `--device`. Messages about the choice (adapter used, fallbacks) go
 * to `log`.
 *
 * @example
 * ```ts
 * import { selectBackend } from "@mlc-deno/convert";
 * import { deepStrictEqual } from "node:assert/strict";
 * const b = await selectBackend("reference");
 * deepStrictEqual(b.name, "reference");
 * ```
 */
export async function selectBackend(
  device: string,
  log: (msg: string) => void = () => {},
): Promise<QuantBackend> {
  if (!(DEVICES as readonly string[]).includes(device)) {
    throw new Error(`Unknown device "${device}". Valid choices: ${DEVICES.join(", ")}`);
  }
  if (device !== "auto") {
    const r = await FACTORIES[device as Exclude<DeviceName, "auto">]({ allowFallback: true });
    if (r.backend) return r.backend;
    if (device === "webgpu") {
      log(`No WebGPU adapter usable (${r.reason}); falling back to cpu`);
      return selectBackend("cpu", log);
    }
    if (device === "cpu") {
      log(`cpu backend unavailable (${r.reason}); falling back to reference`);
      return selectBackend("reference", log);
    }
    throw new Error(`device ${device} unavailable: ${r.reason}`);
  }
  for (const d of ["webgpu", "cpu", "reference"] as const) {
    const r = await FACTORIES[d]({ allowFallback: false });
    if (r.backend) return r.backend;
    if (d !== "reference") log(`auto: ${d} not used (${r.reason})`);
  }
  throw new Error("no backend available");
}
