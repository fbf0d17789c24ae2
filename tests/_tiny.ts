// Shared by tests that convert generated Llama checkpoints: open the checkpoint written into
// `dir` by writeCheckpoint and plan its conversion (asserting the plan has no problems).
import { assertEquals } from "./_assert.ts";
import { fromDict } from "../src/arch/config.ts";
import { ARCHITECTURES } from "../src/arch/registry.ts";
import { type Checkpoint, openCheckpoint } from "../src/checkpoint.ts";
import { denoSource } from "../src/io/deno_fs.ts";
import { type ConversionPlan, planConversion } from "../src/plan.ts";
import { getQuantization } from "../src/quant/schemes.ts";

/** Opens `dir` (single file, or an index when `shards > 1`) and plans a llama conversion. */
export async function planTinyLlama(
  dir: string,
  cfg: Record<string, unknown>,
  quant: string,
  shards: number,
): Promise<{ ckpt: Checkpoint; plan: ConversionPlan }> {
  const ckpt = await openCheckpoint(
    denoSource(),
    shards > 1 ? `${dir}/model.safetensors.index.json` : `${dir}/model.safetensors`,
  );
  const arch = ARCHITECTURES.llama;
  const plan = planConversion({
    arch,
    config: fromDict(arch.configClass, cfg),
    scheme: getQuantization(quant),
    checkpoint: ckpt,
  });
  assertEquals(plan.problems, []);
  return { ckpt, plan };
}
