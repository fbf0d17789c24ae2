/**
 * `upload` command: publish a converted directory to the Hugging Face Hub in one commit (shards
 * as LFS files, JSON as regular files, a generated model card), skipping files already there.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { HUB_ENV_VARS, hubNetHosts, parseHubRef, readHubEnv } from "../hub/mod.ts";
import { modelCard } from "../hub/model_card.ts";
import { type UploadFile, uploadFiles } from "../hub/upload.ts";
import type { CommandSpec } from "./_args.ts";
import { type CommandContext, defineCommand } from "./_command.ts";
import { CliError, type Command, formatBytes, requirePermissions, UsageError } from "./_common.ts";
import { hubClient } from "./_hub.ts";

const SPEC = {
  name: "upload",
  usage: "OUT --repo owner/name [options]",
  description:
    "Publish a converted directory (convert_weight + gen_config output) to the Hugging Face Hub\n" +
    "in one commit, with a generated README.md (model card) unless OUT has one. Files already on the\n" +
    "branch with the same hash are skipped, so an interrupted upload resumes. Needs HF_TOKEN.",
  positionals: [{ name: "OUT", help: "converted directory" }],
  options: {
    repo: { type: "string", metavar: "ID", required: true, help: "target repository, owner/name" },
    revision: {
      type: "string",
      metavar: "BRANCH",
      default: "main",
      help: "branch (created from main when missing)",
    },
    create: { type: "boolean", help: "create the repository when it does not exist" },
    private: { type: "boolean", help: "with --create: make the repository private" },
    message: { type: "string", metavar: "TEXT", help: "commit summary" },
    "base-model": {
      type: "string",
      metavar: "REF",
      help: "the source model for the card: owner/name[@revision] or HF://...",
    },
  },
  jsonHelp: "print the result (commit, files uploaded and skipped) as JSON on stdout",
} as const satisfies CommandSpec;

const STALE = /^(params_shard_\d+\.bin|(ndarray|tensor)-cache(-b16)?\.json)$/;

/** The converted directory's files, checked: a tensor cache whose shards are all there at their sizes. */
async function converted(out: string): Promise<{ names: string[]; cache: Record<string, unknown> }> {
  const names: string[] = [];
  for await (const e of Deno.readDir(out)) if (e.isFile && !e.name.startsWith(".")) names.push(e.name);
  names.sort();
  const cacheName = ["tensor-cache.json", "ndarray-cache.json"].find((n) => names.includes(n));
  if (!cacheName) throw new CliError(`${out}: no tensor-cache.json: not a converted directory`);
  const cache = JSON.parse(await Deno.readTextFile(`${out}/${cacheName}`));
  for (const r of (cache.records ?? []) as { dataPath: string; nbytes: number }[]) {
    const size = names.includes(r.dataPath) ? (await Deno.stat(`${out}/${r.dataPath}`)).size : -1;
    if (size !== r.nbytes) {
      throw new CliError(
        `${out}/${r.dataPath}: ${size < 0 ? "missing" : `${size} bytes, ${cacheName} says ${r.nbytes}`}: ` +
          "the conversion is incomplete; nothing was uploaded",
      );
    }
  }
  return { names, cache };
}

/** The `upload` run. */
async function run(ctx: CommandContext<typeof SPEC>): Promise<number> {
  const v = ctx.values;
  const out = ctx.positionals[0].replace(/\/+$/, "") || "/";
  if (!/^[\w.-]+\/[\w.-]+$/.test(v.repo)) {
    throw new UsageError(`--repo: expected owner/name, got ${v.repo}`, SPEC.name);
  }
  if (v.private && !v.create) throw new UsageError("--private needs --create", SPEC.name);
  const env = readHubEnv();
  requirePermissions({
    read: [out],
    write: [],
    net: hubNetHosts(env.endpoint, "upload"),
    env: [...HUB_ENV_VARS],
  });
  if (!env.token) throw new CliError("upload needs HF_TOKEN: a token with write access to " + v.repo);
  const base = v["base-model"]
    ? parseHubRef(/^hf:\/\//i.test(v["base-model"]) ? v["base-model"] : `HF://${v["base-model"]}`)
    : undefined;
  const { names, cache } = await converted(out);
  const files: UploadFile[] = names.map((n) => ({ path: n, read: () => Deno.readFile(`${out}/${n}`) }));
  if (!names.includes("README.md")) {
    const chat = names.includes("mlc-chat-config.json")
      ? JSON.parse(await Deno.readTextFile(`${out}/mlc-chat-config.json`))
      : undefined;
    const card = modelCard({
      repo: v.repo,
      baseModel: base?.repo,
      baseRevision: base && base.root.includes("@") ? base.revision : undefined,
      toolVersion: denoJson.version,
      cache: cache as never,
      chatConfig: chat,
    });
    files.push({ path: "README.md", read: () => Promise.resolve(new TextEncoder().encode(card)) });
  }
  const r = await uploadFiles(files, {
    client: hubClient(),
    repo: v.repo,
    revision: v.revision,
    create: v.create,
    private: v.private,
    message: v.message,
    removeStale: (p) => STALE.test(p),
    log: (l) => ctx.log(l),
  });
  ctx.out(
    r.commitOid
      ? `Committed ${r.uploaded.length} file(s) to ${v.repo}@${v.revision} (${
        formatBytes(r.lfsBytes)
      } of LFS data sent)` +
        `${r.skipped.length ? `; ${r.skipped.length} unchanged` : ""}${
          r.deleted.length ? `; removed ${r.deleted.join(", ")}` : ""
        }: ${r.commitUrl ?? r.commitOid}`
      : `Nothing to commit: all ${r.skipped.length} file(s) are on ${v.repo}@${v.revision} already`,
  );
  ctx.result({
    ok: true,
    repo: v.repo,
    revision: v.revision,
    commit: r.commitOid ?? null,
    commit_url: r.commitUrl ?? null,
    uploaded: r.uploaded,
    skipped: r.skipped,
    deleted: r.deleted,
    lfs_bytes: r.lfsBytes,
  });
  return 0;
}

/** The `upload` command. */
export const uploadCmd: Command = defineCommand({
  spec: SPEC,
  summary: "publish a converted directory to the Hugging Face Hub (resumable)",
  run,
});
