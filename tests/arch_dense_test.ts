// The dense model types of the second wave as users reach them: detected from config.json's
// model_type, and `convert_weight --dry-run --json` on a sparse checkpoint with the real
// dimensions of InternLM2.5-7B-chat (headers only, the data a hole in the files: no disk cost).
import { assertEquals } from "./_assert.ts";
import { ARCHITECTURES, detectArchitecture } from "../src/arch/registry.ts";
import { writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { DENSE_TINY } from "./_dense_tiny.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

Deno.test("registry: every dense type is found from its HF model_type and keeps MLC's quantization kinds", () => {
  const keys = Object.keys(DENSE_TINY);
  assertEquals(keys, [
    "starcoder2",
    "gpt_bigcode",
    "stablelm",
    "olmo",
    "olmo2",
    "internlm",
    "internlm2",
    "cohere",
    "chatglm",
    "baichuan",
    "orion",
    "qwen",
    "nemotron",
    "gptj",
    "rwkv5",
    "rwkv6",
  ]);
  for (const k of keys) {
    assertEquals(detectArchitecture("auto", DENSE_TINY[k]).name, k);
    assertEquals(detectArchitecture(k, {}).name, k);
    // model.py: all have no-quant and group-quant (ft/awq/per-tensor are not offered here)
    assertEquals(ARCHITECTURES[k].quantKinds, ["no-quant", "group-quant"]);
  }
});

Deno.test("cli --dry-run --json: internlm2_5-7b-chat dimensions from a sparse 4-file checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const text = await Deno.readTextFile(
      new URL("./fixtures/configs/internlm2_5-7b-chat.json", import.meta.url),
    );
    const cfg = JSON.parse(text);
    await writeCheckpoint(`${dir}/model`, text, hfTensors("internlm2", cfg), { sparse: true, shards: 4 });
    const p = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--allow-read=${dir}`,
        CLI,
        "convert_weight",
        `${dir}/model`,
        "--quantization",
        "q4f16_1",
        "--dry-run",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(p.stderr);
    assertEquals(p.code, 0, err);
    const plan = JSON.parse(new TextDecoder().decode(p.stdout));
    assertEquals(plan.ok, true);
    assertEquals(plan.metadata.ParamSize, 325);
    assertEquals(plan.metadata.ParamBytes, 4352843776);
    const byName = new Map(
      (plan.tensors as { name: string; shape: number[]; dtype: string }[]).map((t) => [t.name, t]),
    );
    assertEquals(byName.size, 325);
    const pick = (n: string) => {
      const t = byName.get(n)!;
      return `${t.shape.join("x")} ${t.dtype}`;
    };
    assertEquals(pick("model.layers.0.attention.wqkv.q_weight"), "6144x512 uint32");
    assertEquals(pick("model.layers.0.attention.wqkv.q_scale"), "6144x128 float16");
    assertEquals(pick("model.layers.31.feed_forward.w2.q_weight"), "4096x1792 uint32");
    assertEquals(pick("model.layers.31.ffn_norm.weight"), "4096 float16");
    assertEquals(pick("output.q_weight"), "92544x512 uint32");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
