// The hostile corpus: the tiny model with one defect each, as an attacker or an unlucky user
// would leave it. Used by tests/hostile_test.ts (every case refused clearly, each refusal under
// 150 MB peak RSS and 2 s of CPU, measured with /usr/bin/time).
import { genArgs, type HostileCase, patchChatTemplate, patchConfig, rewriteSafetensors } from "./_hostile.ts";
import { llamaHfTensors, TINY_LLAMA_CONFIG } from "../src/testing/checkpoint_gen.ts";
import {
  encodeStateDictPickle,
  encodeStoredZip,
  type PickledTensor,
  writeTorchFile,
  zipBytes,
} from "../src/testing/torch_writer.ts";
import { tensorData } from "../src/gen_tensors.ts";

const outsideFile = async (dir: string, name: string, text: string): Promise<string> => {
  await Deno.mkdir(`${dir}/outside`, { recursive: true });
  await Deno.writeTextFile(`${dir}/outside/${name}`, text);
  return `${dir}/outside/${name}`;
};

const moveOut = async (dir: string, model: string, name: string): Promise<string> => {
  await Deno.mkdir(`${dir}/outside`, { recursive: true });
  await Deno.rename(`${model}/${name}`, `${dir}/outside/${name}`);
  return `${dir}/outside/${name}`;
};

/** Scope: links and `..` that leave the model directory, and files that are not regular. */
export const SCOPE_CASES: HostileCase[] = [
  {
    name: "config.json is a symlink outside the model directory",
    async setup(dir, model) {
      const cfg = await Deno.readTextFile(`${model}/config.json`);
      await Deno.remove(`${model}/config.json`);
      await Deno.symlink(await outsideFile(dir, "secret.json", cfg), `${model}/config.json`);
    },
    expect: [/config\.json is a symbolic link to .*outside\/secret\.json, outside the model directory/],
  },
  {
    name: "config.json is a relative symlink with .. outside",
    async setup(_dir, model) {
      const cfg = await Deno.readTextFile(`${model}/config.json`);
      await Deno.remove(`${model}/config.json`);
      await Deno.writeTextFile(`${model}/../cfg.json`, cfg);
      await Deno.symlink("../cfg.json", `${model}/config.json`);
    },
    expect: [/config\.json is a symbolic link to \.\.\/cfg\.json \(.*\/cfg\.json\), outside/],
  },
  {
    name: "model.safetensors is a symlink outside",
    async setup(dir, model) {
      const target = await moveOut(dir, model, "model.safetensors");
      await Deno.symlink(target, `${model}/model.safetensors`);
    },
    expect: [/model\.safetensors is a symbolic link to .*outside\/model\.safetensors, outside/],
  },
  {
    name: "the weights directory is a symlink outside (the file resolves through it)",
    async setup(dir, model) {
      await moveOut(dir, model, "model.safetensors");
      await Deno.symlink(`${dir}/outside`, `${model}/w`);
      await Deno.writeTextFile(
        `${model}/model.safetensors.index.json`,
        JSON.stringify({ weight_map: { "model.norm.weight": "w/model.safetensors" } }),
      );
    },
    expect: [/w\/model\.safetensors resolves through a symbolic link to .*outside\/model\.safetensors/],
  },
  {
    name: "tokenizer.json is a symlink outside (gen_config)",
    async setup(dir, model) {
      const target = await moveOut(dir, model, "tokenizer.json");
      await Deno.symlink(target, `${model}/tokenizer.json`);
    },
    args: genArgs(),
    expect: [/tokenizer\.json is a symbolic link to .*outside\/tokenizer\.json, outside/],
  },
  {
    name: "an index names a shard through ..",
    async setup(dir, model) {
      await moveOut(dir, model, "model.safetensors");
      await Deno.writeTextFile(
        `${model}/model.safetensors.index.json`,
        JSON.stringify({ weight_map: { "model.norm.weight": "../outside/model.safetensors" } }),
      );
    },
    expect: [/points outside the model directory: \.\.\/outside\/model\.safetensors/],
  },
  {
    name: "config.json is a FIFO",
    async setup(_dir, model) {
      await Deno.remove(`${model}/config.json`);
      await new Deno.Command("mkfifo", { args: [`${model}/config.json`] }).output();
    },
    expect: [/config\.json is a FIFO \(named pipe\), not a regular file/],
  },
  {
    name: "model.safetensors is a FIFO",
    async setup(_dir, model) {
      await Deno.remove(`${model}/model.safetensors`);
      await new Deno.Command("mkfifo", { args: [`${model}/model.safetensors`] }).output();
    },
    expect: [/model\.safetensors is a FIFO \(named pipe\), not a regular file/],
  },
  {
    name: "tokenizer_config.json is a symlink to a character device (gen_config)",
    async setup(_dir, model) {
      await Deno.remove(`${model}/tokenizer_config.json`);
      await Deno.symlink("/dev/zero", `${model}/tokenizer_config.json`);
    },
    args: genArgs(),
    expect: [/tokenizer_config\.json is a symbolic link to \/dev\/zero, outside the model directory/],
  },
  {
    name: "config.json is a directory",
    async setup(_dir, model) {
      await Deno.remove(`${model}/config.json`);
      await Deno.mkdir(`${model}/config.json`);
    },
    expect: [/config\.json/],
  },
];

const configCase = (name: string, patch: Record<string, unknown> | string, expect: RegExp): HostileCase => ({
  name,
  setup: (_dir, model) => patchConfig(model, patch),
  expect: [expect],
});

/** Config bounds: the field the user wrote is named; nothing is planned from a wild value. */
export const CONFIG_CASES: HostileCase[] = [
  configCase(
    "num_hidden_layers: 1e9",
    { num_hidden_layers: 1e9 },
    /config\.json: num_hidden_layers must be a positive integer \(at most 1,024\), got 1000000000/,
  ),
  configCase(
    "num_hidden_layers: 1e6",
    { num_hidden_layers: 1e6 },
    /num_hidden_layers must be a positive integer/,
  ),
  configCase(
    "num_hidden_layers: 1000 with a 2-layer checkpoint",
    { num_hidden_layers: 1000 },
    /num_hidden_layers is 1000, but the checkpoint's tensors hold 2 layers \(0-1\)/,
  ),
  configCase(
    "num_hidden_layers: -1",
    { num_hidden_layers: -1 },
    /num_hidden_layers must be a positive integer.*got -1/,
  ),
  configCase(
    "num_attention_heads: 0",
    { num_attention_heads: 0 },
    /num_attention_heads must be a positive integer.*got 0/,
  ),
  configCase(
    "num_key_value_heads: 2.5",
    { num_key_value_heads: 2.5 },
    /num_key_value_heads must be .*got 2\.5/,
  ),
  configCase('hidden_size: "64"', { hidden_size: "64" }, /hidden_size must be a positive integer.*got "64"/),
  configCase("vocab_size: 1e300", { vocab_size: 1e300 }, /vocab_size must be a positive integer/),
  {
    name: "hidden_size: NaN",
    async setup(_dir, model) {
      const text = await Deno.readTextFile(`${model}/config.json`);
      await patchConfig(model, text.replace(/"hidden_size":\s*64/, '"hidden_size": NaN'));
    },
    expect: [/hidden_size must be a positive integer \(at most 131,072\), got NaN/],
  },
  {
    name: "intermediate_size in text_config: 0",
    setup: (_dir, model) => patchConfig(model, { text_config: { intermediate_size: 0 } }),
    expect: [/text_config\.intermediate_size must be a positive integer/],
  },
  {
    name: "gen_config --context-window-size=-5",
    setup: () => Promise.resolve(),
    args: (dir, model) => [...genArgs()(dir, model), "--context-window-size=-5"],
    code: 2,
    expect: [/invalid value for --context-window-size: must be a positive integer .* or -1, got -5/],
  },
  {
    name: "gen_config: num_attention_heads: 0",
    setup: (_dir, model) => patchConfig(model, { num_attention_heads: 0 }),
    args: genArgs(),
    expect: [/num_attention_heads must be a positive integer.*got 0/],
  },
];

const templateCase = (name: string, template: string, expect: RegExp): HostileCase => ({
  name: `chat_template: ${name} (--conv-template auto)`,
  setup: (_dir, model) => patchChatTemplate(model, template),
  args: genArgs("auto"),
  expect: [/the chat_template of .*tokenizer_config\.json was stopped while rendering/, expect],
});

/** Chat templates that loop or flood: `auto` gives up within the rendering budget. */
export const TEMPLATE_CASES: HostileCase[] = [
  templateCase(
    "nested loops of 1e10 iterations",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    /range\(\) of 100,000 items \(limit 10,000\)/,
  ),
  templateCase(
    "nested loops of 1e8 iterations within range's limit",
    "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
    /more than 50,000 evaluation steps|more than 250 ms/,
  ),
  templateCase("range(10**12)", "{{ range(10**12)|length }}", /range\(\) of 1,000,000,000,000 items/),
  templateCase(
    "a flood of output",
    "{% for i in range(10000) %}" + "flood ".repeat(500) + "\n{% endfor %}",
    /more than 16,777,216 characters of output in all/,
  ),
  templateCase(
    "a string doubled 40 times",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    /a string of 2,097,152 characters \(limit 1,048,576\)/,
  ),
  templateCase(
    "replace('', s) on a 1 MB string",
    "{% set ns = namespace(s='x') %}{% for i in range(20) %}{% set ns.s = ns.s + ns.s %}{% endfor %}" +
      "{{ ns.s.replace('', ns.s) }}",
    /replace\(\) would make 1,099,513,724,928 characters/,
  ),
  templateCase(
    "indent(1e8)",
    "{{ 'a\\nb'|indent(100000000) }}",
    /indent\(\) would make 200,000,003 characters/,
  ),
  templateCase(
    "tojson(indent=1e8)",
    "{{ messages|tojson(indent=100000000) }}",
    /tojson\(indent=100,000,000\)/,
  ),
];

/** The header text with tensor `name`'s entry mapped by `fn`. */
const entry =
  (name: string, fn: (e: Record<string, unknown>) => unknown) =>
  (_text: string, json: Record<string, unknown>) => {
    json[name] = fn(json[name] as Record<string, unknown>);
    return JSON.stringify(json);
  };
const NORM = "model.norm.weight";

/** safetensors headers as strict as the reference reader; invalid tokenizer files. */
export const FILE_CASES: HostileCase[] = [
  {
    name: "a tensor name twice in the header",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (text, json) => {
        const first = JSON.stringify(json["lm_head.weight"]);
        return text.replace(/^\{/, `{"${NORM}":${first},`);
      }),
    expect: [/model\.safetensors: tensor "model\.norm\.weight" appears twice in the header/],
  },
  {
    name: "a hole in the data area (bytes no tensor owns)",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (_t, json) => {
        // shift the last tensor (by offset) 64 bytes on, growing the data area by 64 bytes
        const last = Object.entries(json).filter(([k]) => k !== "__metadata__")
          .sort((a, b) => b[1].data_offsets![0] - a[1].data_offsets![0])[0][1];
        last.data_offsets = last.data_offsets!.map((o) => o + 64);
        return JSON.stringify(json);
      }, (d) => {
        const out = new Uint8Array(d.length + 64);
        out.set(d);
        return out;
      }),
    expect: [/bytes \d+-\d+ of the data area belong to no tensor \(a hole before/],
  },
  {
    name: "trailing bytes after the last tensor",
    async setup(_dir, model) {
      const f = await Deno.open(`${model}/model.safetensors`, { append: true });
      await f.write(new Uint8Array(100));
      f.close();
    },
    expect: [/100 bytes after the last tensor belong to no tensor/],
  },
  {
    name: "a dim written as 64.0",
    setup: (_dir, model) =>
      rewriteSafetensors(
        model,
        (text) =>
          text.replace(/"model\.norm\.weight":\{"dtype":"BF16","shape":\[64\]/, (m) =>
            m.replace("[64]", "[64.0]")),
      ),
    expect: [/tensor "model\.norm\.weight": shape holds 64\.0, not a non-negative integer/],
  },
  {
    name: "a shape whose product overflows 2^53",
    setup: (_dir, model) =>
      rewriteSafetensors(model, entry(NORM, (e) => ({ ...e, shape: [2 ** 40, 2 ** 20] }))),
    expect: [
      /tensor "model\.norm\.weight": shape \[1099511627776,1048576\] x BF16 is \d+ bytes, beyond any file/,
    ],
  },
  {
    name: "__metadata__ that is not a map of strings",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (_t, json) => JSON.stringify({ ...json, __metadata__: { format: 1 } })),
    expect: [/__metadata__\["format"\] is not a string/],
  },
  {
    name: "a 500,000-deep __metadata__",
    setup: (_dir, model) =>
      rewriteSafetensors(
        model,
        (text) =>
          text.replace(
            /"__metadata__":\{[^}]*\}/,
            `"__metadata__":${"[".repeat(500_000)}${"]".repeat(500_000)}`,
          ),
      ),
    expect: [/nested deeper than a safetensors header can be \(depth 3\)/],
  },
  {
    name: "an invalid tokenizer_config.json (gen_config)",
    setup: (_dir, model) => Deno.writeTextFile(`${model}/tokenizer_config.json`, '{"bos_token": "<s>",'),
    args: genArgs(),
    expect: [/tokenizer_config\.json is not valid JSON/],
  },
  {
    name: "a tokenizer_config.json that is a Git LFS pointer (gen_config)",
    setup: (_dir, model) =>
      Deno.writeTextFile(
        `${model}/tokenizer_config.json`,
        "version https://git-lfs.github.com/spec/v1\noid sha256:00\n",
      ),
    args: genArgs(),
    expect: [/tokenizer_config\.json is not valid JSON/],
  },
];

const ESC = "evil\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eexe.txt";
const smallStderr = (max: number) => (r: { err: string }) =>
  r.err.length > max ? [`stderr is ${r.err.length} characters (at most ${max})`] : [];

/** Output hygiene: escapes from inputs never reach the terminal raw; long names and lists are capped. */
export const OUTPUT_CASES: HostileCase[] = [
  {
    name: "escape sequences in a tensor name",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (_t, json) => {
        const end = Math.max(...Object.values(json).map((e) => e.data_offsets?.[1] ?? 0));
        return JSON.stringify({ ...json, [ESC]: { dtype: "F16", shape: [1], data_offsets: [end, end + 2] } });
      }, (d) => new Uint8Array([...d, 0, 0])),
    code: 0,
    expect: [/Unused extern parameters: evil\\u001b\[2J\\u001b\]0;pwned\\u0007\\u009b31m\\u202eexe\.txt/],
  },
  {
    name: "escape sequences in model_type",
    setup: (_dir, model) => patchConfig(model, { model_type: ESC }),
    expect: [/Unknown model type "evil\\u001b\[2J/],
  },
  {
    name: "a 1 MB model_type",
    setup: (_dir, model) => patchConfig(model, { model_type: "m".repeat(1 << 20) }),
    expect: [/Unknown model type "m{200}\.\.\. \(1,048,376 more characters\)"/],
    check: smallStderr(4000),
  },
  {
    name: "a 1 MB tensor name",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (_t, json) => {
        const end = Math.max(...Object.values(json).map((e) => e.data_offsets?.[1] ?? 0));
        const big = "n".repeat(1 << 20);
        return JSON.stringify({ ...json, [big]: { dtype: "F16", shape: [1], data_offsets: [end, end + 2] } });
      }, (d) => new Uint8Array([...d, 0, 0])),
    code: 0,
    expect: [/Unused extern parameters: n{200}\.\.\. \(1,048,376 more characters\)/],
    check: smallStderr(4000),
  },
  {
    name: "a 1 MB tensor name in a refusal (a hole after it)",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (_t, json) => {
        const end = Math.max(...Object.values(json).map((e) => e.data_offsets?.[1] ?? 0));
        const big = "\u001b[31m" + "n".repeat(1 << 20);
        return JSON.stringify({
          ...json,
          [big]: { dtype: "F16", shape: [1], data_offsets: [end + 2, end + 4] },
        });
      }, (d) => new Uint8Array([...d, 0, 0, 0, 0])),
    expect: [
      /model\.safetensors: bytes \d+-\d+ of the data area belong to no tensor \(a hole before "\\u001b\[31mn{195}\.\.\. \(1,048,381 more characters\)"\)/,
    ],
    check: smallStderr(4000),
  },
  {
    name: "200,000 unused tensor names",
    setup: (_dir, model) =>
      rewriteSafetensors(model, (_t, json) => {
        let end = Math.max(...Object.values(json).map((e) => e.data_offsets?.[1] ?? 0));
        for (let i = 0; i < 200_000; i++) {
          json[`extra.${i}`] = { dtype: "F16", shape: [1], data_offsets: [end, end += 2] } as never;
        }
        return JSON.stringify(json);
      }, (d) => new Uint8Array([...d, ...new Uint8Array(400_000)])),
    code: 0,
    expect: [/Warning: Unused extern parameters: extra\.0, extra\.1, .*extra\.19, and 199,980 more/],
    check: smallStderr(8000),
  },
];

const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

/** Deeply nested JSON in the other files read (config, tokenizer files): refused, no stack overflow. */
export const DEEP_JSON_CASES: HostileCase[] = [
  {
    name: "config.json nested 500,000 deep",
    setup: (_dir, model) => patchConfig(model, `{"model_type":"llama","x":${deep(500_000)}}`),
    expect: [/config\.json: nests JSON deeper than 64 levels/],
  },
  {
    name: "config.json nested 500,000 deep (gen_config)",
    setup: (_dir, model) => patchConfig(model, `{"model_type":"llama","x":${deep(500_000)}}`),
    args: genArgs(),
    expect: [/config\.json nests JSON deeper than 64 levels/],
  },
  {
    name: "tokenizer.json nested 500,000 deep (gen_config)",
    setup: (_dir, model) =>
      Deno.writeTextFile(`${model}/tokenizer.json`, `{"added_tokens":${deep(500_000)}}`),
    args: genArgs(),
    expect: [
      /tokenizer\.json nests JSON deeper than 128 levels, which the tokenizers library refuses to load/,
    ],
  },
  {
    name: "tokenizer_config.json nested 500,000 deep (gen_config)",
    setup: (_dir, model) =>
      Deno.writeTextFile(`${model}/tokenizer_config.json`, `{"chat_template":"x","a":${deep(500_000)}}`),
    args: genArgs(),
    expect: [/tokenizer_config\.json nests JSON deeper than 128 levels/],
  },
  {
    name: "model.safetensors.index.json nested 500,000 deep",
    setup: (_dir, model) =>
      Deno.writeTextFile(
        `${model}/model.safetensors.index.json`,
        `{"weight_map":{},"metadata":${deep(500_000)}}`,
      ),
    expect: [/model\.safetensors\.index\.json: nests JSON deeper than 16 levels \(an index nests 2\)/],
  },
];

/** Cases that must convert (the checks must not refuse ordinary layouts). */
export const ACCEPTED_CASES: HostileCase[] = [
  {
    name: "a symlink inside the model directory",
    async setup(_dir, model) {
      await Deno.mkdir(`${model}/blobs`);
      await Deno.rename(`${model}/model.safetensors`, `${model}/blobs/abc`);
      await Deno.symlink("blobs/abc", `${model}/model.safetensors`);
    },
    code: 0,
    expect: [],
  },
  {
    name: "vocab_size disagreeing with the embedding converts with a warning (as MLC, which says nothing)",
    setup: (_dir, model) => patchConfig(model, { vocab_size: 300 }),
    code: 0,
    expect: [/Warning: vocab_size is 300 in config\.json, but model\.embed_tokens\.weight has 256 rows/],
  },
];

/** The tiny model with `pytorch_model.bin` (torch.save zip) in place of `model.safetensors`. */
const toTorch = async (model: string, extra: { name: string; shape: number[] }[] = []): Promise<string> => {
  await Deno.remove(`${model}/model.safetensors`);
  const path = `${model}/pytorch_model.bin`;
  await writeTorchFile(path, [...llamaHfTensors(TINY_LLAMA_CONFIG), ...extra], { dtype: "BF16", seed: 1 });
  return path;
};

/**
 * The tiny model as `pytorch_model.bin` built by hand, with `extra` views (each on its own
 * one-element bf16 storage keyed `x<i>`) appended to the state dict.
 */
const toTorchWithViews = async (
  model: string,
  extra: Omit<PickledTensor, "storageClass" | "key" | "numel">[],
) => {
  await Deno.remove(`${model}/model.safetensors`);
  const tensors = llamaHfTensors(TINY_LLAMA_CONFIG);
  const pickled: PickledTensor[] = [
    ...tensors.map((t, i) => ({
      name: t.name,
      storageClass: "BFloat16Storage",
      key: String(i),
      numel: t.shape.reduce((a, b) => a * b, 1),
      offset: 0,
      shape: t.shape,
      stride: t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1)),
    })),
    ...extra.map((v, i) => ({ ...v, storageClass: "BFloat16Storage", key: `x${i}`, numel: 1 })),
  ];
  const records = [
    { name: "archive/data.pkl", data: encodeStateDictPickle(pickled) },
    { name: "archive/byteorder", data: new TextEncoder().encode("little") },
    ...tensors.map((t, i) => ({ name: `archive/data/${i}`, data: tensorData(t, "BF16", 1) })),
    ...extra.map((_, i) => ({ name: `archive/data/x${i}`, data: new Uint8Array(2) })),
    { name: "archive/version", data: new TextEncoder().encode("3\n") },
  ];
  await Deno.writeFile(`${model}/pytorch_model.bin`, zipBytes(encodeStoredZip(records)));
};

/** Bytes of a file with `f` applied. */
const editFile = async (path: string, f: (b: Uint8Array) => Uint8Array): Promise<void> => {
  await Deno.writeFile(path, f(await Deno.readFile(path)));
};

/** PyTorch `.bin` checkpoints (the zip + pickle reader): the same scope and damage rules. */
export const TORCH_CASES: HostileCase[] = [
  {
    name: "pytorch_model.bin is a symlink outside",
    async setup(dir, model) {
      await toTorch(model);
      const target = await moveOut(dir, model, "pytorch_model.bin");
      await Deno.symlink(target, `${model}/pytorch_model.bin`);
    },
    expect: [/pytorch_model\.bin is a symbolic link to .*outside\/pytorch_model\.bin, outside/],
  },
  {
    name: "pytorch_model.bin is a FIFO",
    async setup(_dir, model) {
      await Deno.remove(`${model}/model.safetensors`);
      await new Deno.Command("mkfifo", { args: [`${model}/pytorch_model.bin`] }).output();
    },
    expect: [/pytorch_model\.bin is a FIFO \(named pipe\), not a regular file/],
  },
  {
    name: "a .bin index names a shard through ..",
    async setup(dir, model) {
      await toTorch(model);
      await moveOut(dir, model, "pytorch_model.bin");
      await Deno.writeTextFile(
        `${model}/pytorch_model.bin.index.json`,
        JSON.stringify({ weight_map: { "model.norm.weight": "../outside/pytorch_model.bin" } }),
      );
    },
    expect: [/points outside the model directory: \.\.\/outside\/pytorch_model\.bin/],
  },
  {
    name: "pytorch_model.bin cut in half",
    setup: async (_dir, model) => await editFile(await toTorch(model), (b) => b.subarray(0, b.length >> 1)),
    expect: [/pytorch_model\.bin: no zip end-of-central-directory record: the file is truncated/],
  },
  {
    name: "pytorch_model.bin with its pickle bytes scrambled",
    setup: async (_dir, model) =>
      await editFile(await toTorch(model), (b) => {
        const c = b.slice();
        // the first record is archive/data.pkl: scramble its stored bytes (after the local header)
        for (let i = 80; i < 400; i += 7) c[i] ^= 0x5a;
        return c;
      }),
    expect: [/pytorch_model\.bin: archive\/data\.pkl: refuses global .*nothing is imported or run/],
  },
  {
    name: "pytorch_model.bin that is not a zip (a text file)",
    setup: async (_dir, model) => {
      await Deno.remove(`${model}/model.safetensors`);
      await Deno.writeTextFile(`${model}/pytorch_model.bin`, "version https://git-lfs.github.com/spec/v1\n");
    },
    expect: [/pytorch_model\.bin: not a PyTorch checkpoint: torch\.save writes a zip archive/],
  },
  {
    name: "a .bin view whose shape product overflows 2^53 (stride 0 on one element)",
    setup: (_dir, model) =>
      toTorchWithViews(model, [{ name: "extra", offset: 0, shape: [2 ** 27, 2 ** 27], stride: [0, 0] }]),
    expect: [
      /pytorch_model\.bin: archive\/data\.pkl: tensor extra: size \[134217728,134217728\] x BF16 is 36028797018963968 bytes, beyond any checkpoint/,
    ],
  },
  {
    name: "a .bin view expanded to 2 TB from one element (stride 0, unused)",
    setup: (_dir, model) =>
      toTorchWithViews(model, [{ name: "extra", offset: 0, shape: [2 ** 20, 2 ** 20], stride: [0, 0] }]),
    code: 0,
    expect: [/Unused extern parameters: extra/],
  },
  {
    name: "escape sequences in a state-dict key (.bin)",
    setup: async (_dir, model) => void await toTorch(model, [{ name: ESC, shape: [1] }]),
    code: 0,
    expect: [/Unused extern parameters: evil\\u001b\[2J\\u001b\]0;pwned\\u0007/],
  },
];
