// scratch (not committed): sparse checkpoints with real dimensions
import { writeCheckpoint } from "../src/testing/checkpoint_gen.ts";
import { hfTensors } from "../src/testing/hf_layouts.ts";
import { parsePyJson, dumpPyJson } from "../src/pyjson.ts";
const [key, cfgName, dir, layers] = Deno.args;
const text = Deno.readTextFileSync(`tests/fixtures/configs/${cfgName}.json`);
const cfg = JSON.parse(dumpPyJson(parsePyJson(text))) as Record<string, unknown>;
if (layers) {
  const tc = (cfg.text_config ?? cfg) as Record<string, unknown>;
  tc.num_hidden_layers = Number(layers);
  for (const k of ["moe_layers", "no_rope_layers", "layer_types"]) if (Array.isArray(tc[k])) tc[k] = (tc[k] as unknown[]).slice(0, Number(layers));
}
await Deno.mkdir(dir, { recursive: true });
await writeCheckpoint(dir, cfg, hfTensors(key, cfg), { dtype: "BF16", shards: 4, sparse: true });
// keep the real config.json text when not reduced (Python number types)
if (!layers) Deno.writeTextFileSync(`${dir}/config.json`, text);
console.log("ok", dir);
