/**
 * mlc-convert in a web page: the library (everything `mod.ts` exports) plus browser stores and
 * {@link convertInBrowser}. Nothing here touches Deno or Node APIs on import; bundle it with
 * `deno task build:web` (`web/mlc-convert.js`).
 *
 * Workers (several kernel threads) need `SharedArrayBuffer`, which a browser gives only to a
 * cross-origin isolated page (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`); elsewhere everything runs on one thread.
 *
 * @example
 * ```ts ignore
 * import { convertInBrowser, directoryOutput, fileSource } from "@mlc-deno/convert/web";
 * const out = await directoryOutput(await showDirectoryPicker({ mode: "readwrite" }));
 * await convertInBrowser({ source: fileSource(input.files!), quantization: "q4f16_1", output: out });
 * ```
 *
 * @module
 */
export * from "../../mod.ts";
export * from "./stores.ts";
export * from "./zip.ts";
export * from "./convert.ts";
