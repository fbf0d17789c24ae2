// `--conv-template auto` on the chat templates published dense models ship (tokenizer_config.json
// `chat_template`, copied from llama.cpp's tests/test-chat-template.cpp into
// tests/fixtures/chat_templates): the Cohere format finds MLC's aya-23 template; Orion, ChatGLM3
// and GLM-4 have no registered MLC template that renders identically, and the error says which
// one is nearest and how it differs (MLC's `orion` puts the end token after the answer, HF's
// before it; MLC's `glm` is the ChatGLM2 问/答 format).
import { assertEquals, assertOk, assertThrows } from "./_assert.ts";
import { detectConvTemplate } from "../src/genconfig/auto_template.ts";

async function tokenizerConfig(name: string): Promise<Record<string, unknown>> {
  const f = JSON.parse(
    await Deno.readTextFile(new URL(`./fixtures/chat_templates/${name}.json`, import.meta.url)),
  );
  const { source: _s, model: _m, ...tc } = f;
  return tc;
}

Deno.test("conv-template auto: the Cohere chat format (Command-R, Aya-23) is MLC's aya-23", async () => {
  const r = detectConvTemplate(await tokenizerConfig("c4ai-command-r-plus"));
  assertEquals([r.name, r.matches, r.withoutSystem], ["aya-23", ["aya-23"], false]);
});

Deno.test("conv-template auto: Orion-14B-Chat has no identical MLC template (nearest: orion)", async () => {
  const tc = await tokenizerConfig("Orion-14B-Chat");
  let msg = "";
  try {
    detectConvTemplate(tc);
  } catch (e) {
    msg = (e as Error).message;
  }
  assertOk(/Nearest: orion\./.test(msg), msg);
  // HF: "Assistant: </s>answer</s>"; MLC orion: "Assistant: answer</s>"
  assertOk(msg.includes("- Assistant: </s>The capital of France is Paris.</s>Human: And of Italy?⏎"), msg);
  assertOk(msg.includes("+ Assistant: The capital of France is Paris.</s>Human: And of Italy?⏎"), msg);
});

Deno.test("conv-template auto: ChatGLM3 and GLM-4 templates match no registered MLC template", async () => {
  for (const name of ["chatglm3-6b", "glm-4-9b-chat"]) {
    const tc = await tokenizerConfig(name);
    assertThrows(() => detectConvTemplate(tc), /no registered conversation template renders like/);
  }
});
