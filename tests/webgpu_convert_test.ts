// End to end: generated tiny Llama checkpoints convert to the same bytes on the WebGPU backend
// as on the reference backend, for every offline scheme and every source dtype. Runs on Deno's
// llvmpipe fallback adapter where there is no GPU; skips (with a reason) without navigator.gpu.
import { assertEquals } from "./_assert.ts";
import { convertWeight } from "../src/convert.ts";
import { ReferenceBackend } from "../src/quant/reference.ts";
import type { QuantBackend } from "../src/quant/backend.ts";
import { memoryOutput } from "../src/io/memory.ts";
import { QUANTIZATIONS } from "../src/quant/schemes.ts";
import { planTinyLlama } from "./_tiny.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG, writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { createWebGpuBackend, describeWebGpuAdapter } from "../src/webgpu/backend.ts";

const hasGpu = typeof (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu !== "undefined";
const skipReason = !hasGpu
  ? "navigator.gpu is absent"
  : !(await describeWebGpuAdapter())
  ? "no WebGPU adapter"
  : "";
if (skipReason) console.log(`webgpu_convert_test: skipping (${skipReason})`);

const cfg = { ...TINY_LLAMA_CONFIG } as Record<string, unknown>;

async function convertAll(dir: string, quant: string, backend: QuantBackend, tie: "even" | "away") {
  const { ckpt, plan } = await planTinyLlama(dir, cfg, quant, 1);
  const out = memoryOutput();
  await convertWeight({ plan, checkpoint: ckpt, backend, output: out, tie });
  ckpt.close();
  return out.files;
}

Deno.test(
  "tiny llama: --device webgpu writes the same bytes as --device reference (every scheme, dtype)",
  { ignore: skipReason !== "", sanitizeResources: false, sanitizeOps: false },
  async () => {
    const gpu = (await createWebGpuBackend({ allowFallback: true, chunkBytes: 8192 }))!;
    const ref = new ReferenceBackend();
    for (const dtype of ["BF16", "F16", "F32"] as const) {
      const dir = await Deno.makeTempDir();
      try {
        await writeCheckpoint(dir, cfg, llamaHfTensors(cfg), { dtype, shards: 1, seed: 3 });
        // every scheme and tie rule from bf16 (the usual source); a cross-section from f16 and f32
        const quants = dtype === "BF16"
          ? Object.keys(QUANTIZATIONS)
          : ["q0bf16", "q0f32", "q4f16_1", "q4bf16_1", "q4f32_1"];
        for (const quant of quants) {
          const ties = quant.startsWith("q0") || dtype !== "BF16"
            ? ["even" as const]
            : ["even" as const, "away" as const];
          for (const tie of ties) {
            const a = await convertAll(dir, quant, gpu, tie);
            const b = await convertAll(dir, quant, ref, tie);
            assertEquals([...a.keys()].sort(), [...b.keys()].sort());
            for (const [name, bytes] of b) {
              assertEquals(equalBytes(a.get(name)!, bytes), true, `${dtype} ${quant} ${tie}: ${name}`);
            }
          }
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    await gpu.close();
  },
);

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
