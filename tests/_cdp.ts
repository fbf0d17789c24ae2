// A small Chrome DevTools Protocol client for the browser tests: starts Debian's headless
// chromium on 127.0.0.1 (a fresh profile in a temp dir) and drives one page over a WebSocket.

/** The chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const given = Deno.env.get("CHROMIUM");
  for (const p of [given, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    if (!p) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return undefined;
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string };

/** One page of a headless chromium. */
export class Browser {
  #proc: Deno.ChildProcess;
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, Pending>();
  #session = "";
  #profile: string;
  /** The chromium process id. */
  get pid(): number {
    return this.#proc.pid;
  }
  /** Console messages and uncaught exceptions of the page. */
  readonly console: string[] = [];

  private constructor(proc: Deno.ChildProcess, ws: WebSocket, profile: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data as string);
      if (m.id !== undefined) {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.error) p?.reject(new Error(`${p.method}: ${m.error.message}`));
        else p?.resolve(m.result ?? {});
      } else if (m.method === "Runtime.consoleAPICalled") {
        this.console.push(m.params.args.map((a: { value?: unknown }) => String(a.value)).join(" "));
      } else if (m.method === "Runtime.exceptionThrown") {
        this.console.push(`exception: ${m.params.exceptionDetails?.exception?.description}`);
      }
    };
  }

  /** Starts chromium (headless, WebGPU enabled: SwiftShader's adapter when there is no GPU). */
  static async launch(binary: string): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "mlc-chromium-" });
    const proc = new Deno.Command(binary, {
      args: [
        "--headless",
        "--no-sandbox",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--enable-unsafe-webgpu",
        "--enable-features=Vulkan",
        "--use-webgpu-adapter=swiftshader",
        "--window-size=1000,1300",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!url && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      url = /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1];
    }
    // keep draining stderr (a full pipe would stall chromium)
    (async () => {
      try {
        while (!(await reader.read()).done) { /* drop */ }
      } catch { /* closed */ }
    })();
    if (!url) {
      proc.kill("SIGKILL");
      throw new Error(`chromium did not start:\n${text.slice(-2000)}`);
    }
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    const b = new Browser(proc, ws, profile);
    const { targetId } = await b.send("Target.createTarget", { url: "about:blank" }, false);
    const { sessionId } = await b.send("Target.attachToTarget", { targetId, flatten: true }, false);
    b.#session = sessionId as string;
    await b.send("Runtime.enable");
    await b.send("Page.enable");
    return b;
  }

  /** Closes the page (as a user closing the tab) and opens a fresh one (same profile). */
  async reopen(): Promise<void> {
    const { targetInfos } = await this.send("Target.getTargets", {}, false);
    const pages = (targetInfos as { targetId: string; type: string }[]).filter((t) => t.type === "page");
    for (const t of pages) await this.send("Target.closeTarget", { targetId: t.targetId }, false);
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" }, false);
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true }, false);
    this.#session = sessionId as string;
    await this.send("Runtime.enable");
    await this.send("Page.enable");
  }

  /** Sends a command (to the page unless `page` is false). */
  send(method: string, params: Record<string, unknown> = {}, page = true): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    const msg: Record<string, unknown> = { id, method, params };
    if (page) msg.sessionId = this.#session;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#ws.send(JSON.stringify(msg));
    });
  }

  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    const ex = r.exceptionDetails as { exception?: { description?: string }; text?: string } | undefined;
    if (ex) throw new Error(`page: ${ex.exception?.description ?? ex.text}`);
    return (r.result as { value: T }).value;
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    let loaded!: () => void;
    const done = new Promise<void>((r) => loaded = r);
    const prev = this.#ws.onmessage!;
    this.#ws.onmessage = (e) => {
      if (JSON.parse(e.data as string).method === "Page.loadEventFired") loaded();
      prev.call(this.#ws, e);
    };
    await this.send("Page.navigate", { url });
    await done;
    this.#ws.onmessage = prev;
  }

  /** Waits until `expression` is truthy in the page (polling), or throws after `ms`. */
  async waitFor(expression: string, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await this.eval<boolean>(`Boolean(${expression})`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${expression}\nconsole:\n${this.console.join("\n")}`);
  }

  /** Sets the files of the `<input type=file>` matching `selector`. */
  async setFiles(selector: string, paths: string[]): Promise<void> {
    const { root } = await this.send("DOM.getDocument", {});
    const { nodeId } = await this.send("DOM.querySelector", {
      nodeId: (root as { nodeId: number }).nodeId,
      selector,
    });
    await this.send("DOM.setFileInputFiles", { nodeId, files: paths });
  }

  /** A PNG of the page. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }

  /** Stops chromium and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.send("Browser.close", {}, false).catch(() => {});
    } finally {
      this.#ws.close();
      const killer = setTimeout(() => {
        try {
          this.#proc.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await this.#proc.status;
      clearTimeout(killer);
      await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
    }
  }
}
