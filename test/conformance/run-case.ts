/**
 * Builds one conformance case (cases/<file stem>/<TestFunction>[-n]/: Dockerfile, context/, expect.json) with the
 * library and returns what differs from its expect.json (empty: the case passes). conformance.test.ts runs every
 * case and keeps the upstream ledger.
 */
import { chmodSync, chownSync, writeFileSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import type { BuildEnv } from '../helpers/build-env.js';
import type { BuildOptions } from '../../builder/index.js';
import { canonical, prepareContext } from '../equivalence/describe.js';
import { imageTree, type TreeNode } from './image-tree.js';
import { checkSubrequestCase, isSubrequestCase, type SubrequestExpect } from './subrequests.js';
import { Lease, hostPlatform, parsePlatform } from '../../layer-store/index.js';
import { parseBuildContextSource, resolveNamedContexts } from '../../builder/index.js';
import { checkExpectations, type CheckExpect } from './checks-expect.js';
import type { BuildEvent } from '../../layer-store/index.js';
import { runBuildPipeline } from '../../builder/index.js';
import { prepareGitCase, type GitCase, type GitCaseSpec } from './git-case.js';

/** The cases' directory. */
export const CASES = join(repoRoot(), 'test', 'conformance', 'cases');
/** Each case's build events (the check warnings a build reports), by case id. */
const caseEvents = new Map<string, BuildEvent[]>();

interface FileExpect {
  content?: string;
  /** A substring of the file's content. */
  contains?: string;
  /** A substring the file's content must not have. */
  notContains?: string;
  mode?: string;
  uid?: number;
  gid?: number;
  type?: 'file' | 'dir' | 'symlink';
  target?: string;
  absent?: true;
  /** Modification time, RFC 3339 (whole seconds). */
  mtime?: string;
}

/** A response of the case's loopback HTTP server (for `ADD <url>`). */
interface HttpResponse {
  content: string;
  /** Binary content (base64), served instead of `content` (a tar archive for a context URL); `true`: `content` is base64. */
  base64?: string | boolean;
  /** The Last-Modified header, RFC 3339. */
  lastModified?: string;
}

interface CaseExpect extends CheckExpect, GitCaseSpec {
  upstream: string;
  files?: Record<string, FileExpect>;
  config?: Record<string, unknown>;
  buildArgs?: Record<string, string>;
  target?: string;
  /** The target platform (`os/arch[/variant]`, BuildKit's `platform` frontend attribute). */
  platform?: string;
  /** The image config's `author` (MAINTAINER). */
  author?: string;
  /** The image's `created` time (RFC 3339, whole seconds), also every history entry's (the base's may be earlier). */
  created?: string;
  /** Secrets given to the build (id → value; BuildKit's session secrets provider). */
  secrets?: Record<string, string>;
  /** Image labels given to the build (BuildKit's `label:<key>` frontend attributes). */
  labels?: Record<string, string>;
  /** RUN container settings (BuildKit's `shm-size`, `ulimit`, `add-hosts`, `cgroup-parent` frontend attributes). */
  runOptions?: Pick<BuildOptions, 'shmSize' | 'ulimits' | 'extraHosts' | 'cgroupParent'>;
  /** The Dockerfile inside the context (e.g. `Dockerfile2`), for cases whose Dockerfile sits next to files it
   * relies on (`<name>.dockerignore`); `""`: none given, the library's default lookup; default: the case's own
   * Dockerfile, outside the context. */
  dockerfile?: string;
  /** The number of layers of the result image. */
  layers?: number;
  /** The last entries of the result's history, in order: a substring of `created_by` and `empty_layer` (the base
   * image's own history differs from upstream's busybox, so only the tail is compared). */
  history?: Array<{ createdBy?: string; emptyLayer?: boolean }>;
  /** The length of the whole history (for scratch-based results). */
  historyLength?: number;
  /** Unix sockets to create in the context (git cannot hold them); they stay open during the build. */
  sockets?: string[];
  /** Context file modes to set after copying (git keeps only the executable bit). */
  contextModes?: Record<string, string>;
  /** The network mode of RUN steps (`--network`). */
  network?: 'none' | 'host' | 'default';
  /** Context file owners (`[uid, gid]`) to set after copying (git keeps none). */
  contextOwners?: Record<string, [number, number]>;
  /** Paths served by a loopback HTTP server for this case; `{{HTTP}}` in the Dockerfile is its `http://127.0.0.1:PORT`. */
  http?: Record<string, HttpResponse>;
  /** `--build-context` NAME → SOURCE (BuildKit's `context:NAME` attributes); a directory is relative to the case. */
  buildContexts?: Record<string, string>;
  /** Substrings the build error must contain (all of them). */
  error?: string | string[];
  /** Outline / targets / subrequests.describe cases (nothing is built): subrequests.ts. */
  outline?: unknown;
  targets?: unknown;
  subrequests?: string[];
}

export function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/** Returns the message of `e` and of every `cause` below it, with hints and Dockerfile lines (`line N`). */
function errorText(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, i = 0; cur !== undefined && cur !== null && i < 10; i++) {
    const err = cur as { message?: unknown; hint?: unknown; cause?: unknown; tail?: unknown; location?: { line?: unknown; endLine?: unknown } };
    parts.push(String(err.message ?? cur));
    if (typeof err.location?.line === 'number') parts.push(`line ${err.location.line}`);
    if (typeof err.location?.line === 'number' && typeof err.location.endLine === 'number' && err.location.endLine !== err.location.line) parts.push(`lines ${err.location.line}-${err.location.endLine}`);
    if (typeof err.hint === 'string') parts.push(err.hint);
    if (typeof err.tail === 'string') parts.push(err.tail);
    cur = err.cause;
  }
  return parts.join('\n');
}

function checkFile(path: string, want: FileExpect, got: TreeNode | undefined): string[] {
  if (want.absent) return got ? [`${path}: exists (${got.type}), expected absent`] : [];
  if (!got) return [`${path}: missing`];
  const out: string[] = [];
  if (want.type !== undefined && got.type !== want.type) out.push(`${path}: type ${got.type}, expected ${want.type}`);
  if (want.mode !== undefined && got.mode !== parseInt(want.mode, 8)) {
    out.push(`${path}: mode ${got.mode.toString(8).padStart(4, '0')}, expected ${want.mode}`);
  }
  if (want.uid !== undefined && got.uid !== want.uid) out.push(`${path}: uid ${got.uid}, expected ${want.uid}`);
  if (want.gid !== undefined && got.gid !== want.gid) out.push(`${path}: gid ${got.gid}, expected ${want.gid}`);
  if (want.target !== undefined && got.linkTarget !== want.target) out.push(`${path}: link ${String(got.linkTarget)}, expected ${want.target}`);
  if (want.mtime !== undefined && got.mtime !== Date.parse(want.mtime) / 1000) {
    out.push(`${path}: mtime ${new Date(got.mtime * 1000).toISOString()}, expected ${want.mtime}`);
  }
  if (want.content !== undefined) {
    const text = got.content?.toString('utf8');
    if (text !== want.content) out.push(`${path}: content ${JSON.stringify(text)}, expected ${JSON.stringify(want.content)}`);
  }
  if (want.contains !== undefined && !(got.content?.toString('utf8') ?? '').includes(want.contains)) {
    out.push(`${path}: content does not contain ${JSON.stringify(want.contains)}`);
  }
  if (want.notContains !== undefined && (got.content?.toString('utf8') ?? '').includes(want.notContains)) {
    out.push(`${path}: content contains ${JSON.stringify(want.notContains)}`);
  }
  return out;
}

/** Starts a loopback HTTP server answering GET and HEAD for `routes`; returns its base URL and a close function. */
async function serveHttp(routes: Record<string, HttpResponse>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const r = routes[req.url ?? ''];
    if (!r) { res.writeHead(404).end(); return; }
    const body = typeof r.base64 === 'string' ? Buffer.from(r.base64, 'base64') : Buffer.from(r.content, r.base64 ? 'base64' : 'utf8');
    const headers: Record<string, string> = { 'content-length': String(body.length), etag: `"${req.url ?? ''}"` };
    if (r.lastModified) headers['last-modified'] = new Date(r.lastModified).toUTCString();
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Builds one case and returns what differs from its expectation (empty: the case passes). */
export async function runCase(env: BuildEnv, work: string, id: string): Promise<string[]> {
  let exp = JSON.parse(readFileSync(join(CASES, id, 'expect.json'), 'utf8')) as CaseExpect;
  if (isSubrequestCase(exp as SubrequestExpect)) return checkSubrequestCase(exp as SubrequestExpect, join(CASES, id, 'Dockerfile'));
  if (exp.warnings !== undefined) {
    // build checks: the build's warnings and a check's (checks-expect.ts), after the usual build expectations
    const problems = await buildAndCheck(env, work, id, exp, undefined);
    const ctx = join(work, 'ctx', id.replace('/', '__'));
    const df = exp.dockerfile === '' ? undefined : exp.dockerfile === undefined ? join(CASES, id, 'Dockerfile') : join(ctx, exp.dockerfile);
    return [...problems, ...(await checkExpectations(exp, caseEvents.get(id) ?? [], ctx, df, env.store))];
  }
  if (exp.git || exp.ssh || exp.contextUrl) {
    // A git server, --ssh keys or a remote context (git-case.ts), and the case's HTTP server if it has one.
    const server = exp.http ? await serveHttp(exp.http) : undefined;
    const gc = await prepareGitCase(exp, join(work, 'git'), [readFileSync(join(CASES, id, 'Dockerfile'), 'utf8'), JSON.stringify(exp)], server?.url);
    try {
      exp = JSON.parse(gc.subst(JSON.stringify(exp))) as CaseExpect; // {{REV:…}} in expected contents
      return await buildAndCheck(env, work, id, exp, undefined, gc);
    } finally {
      await gc.close();
      await server?.close();
    }
  }
  if (!exp.http) return buildAndCheck(env, work, id, exp, undefined);
  const server = await serveHttp(exp.http);
  try {
    return await buildAndCheck(env, work, id, exp, server.url);
  } finally {
    await server.close();
  }
}

/** Prepares the case's context, secrets and Dockerfile in `work`, builds it and compares the outcome with `exp`. */
async function buildAndCheck(env: BuildEnv, work: string, id: string, exp: CaseExpect, httpUrl: string | undefined, gc?: GitCase): Promise<string[]> {
  const dir = join(CASES, id);
  const ctx = join(work, 'ctx', id.replace('/', '__'));
  if (isDir(join(dir, 'context'))) prepareContext(join(dir, 'context'), ctx);
  else mkdirSync(ctx, { recursive: true });
  for (const [p, m] of Object.entries(exp.contextModes ?? {})) chmodSync(join(ctx, p), parseInt(m, 8));
  for (const [p, [uid, gid]] of Object.entries(exp.contextOwners ?? {})) chownSync(join(ctx, p), uid, gid);
  const sockets = await Promise.all((exp.sockets ?? []).map(async (p) => {
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(join(ctx, p), resolve));
    return server;
  }));
  try {
    return await buildInContext(env, work, id, exp, httpUrl, ctx, gc);
  } finally {
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function buildInContext(env: BuildEnv, work: string, id: string, exp: CaseExpect, httpUrl: string | undefined, ctx: string, gc?: GitCase): Promise<string[]> {
  const dir = join(CASES, id);
  const secretDir = join(work, 'secrets', id.replace('/', '__'));
  const secrets = Object.entries(exp.secrets ?? {}).map(([secretId, value]) => {
    mkdirSync(secretDir, { recursive: true });
    const src = join(secretDir, secretId.replace(/[^a-z0-9]+/gi, '-'));
    writeFileSync(src, value, { mode: 0o600 });
    return { id: secretId, src };
  });
  let caseDockerfile = join(dir, 'Dockerfile');
  if (httpUrl !== undefined) {
    caseDockerfile = join(work, 'dockerfiles', id.replace('/', '__'));
    mkdirSync(join(work, 'dockerfiles'), { recursive: true });
    writeFileSync(caseDockerfile, readFileSync(join(dir, 'Dockerfile'), 'utf8').replaceAll('{{HTTP}}', httpUrl));
  }
  if (gc) {
    caseDockerfile = join(work, 'dockerfiles', id.replace('/', '__'));
    mkdirSync(join(work, 'dockerfiles'), { recursive: true });
    writeFileSync(caseDockerfile, gc.subst(readFileSync(join(dir, 'Dockerfile'), 'utf8')));
  }
  const tag = `conformance-${id.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}:latest`;
  const contextsLease = exp.buildContexts ? await Lease.acquire(env.store.root) : undefined;
  const events: BuildEvent[] = [];
  caseEvents.set(id, events);
  try {
    const namedContexts = exp.buildContexts && contextsLease ? await resolveNamedContexts(
      Object.fromEntries(Object.entries(exp.buildContexts).map(([k, v]) => [k, parseBuildContextSource(k, v, dir)])),
      { store: env.store, lease: contextsLease, platforms: [exp.platform ? parsePlatform(exp.platform) : hostPlatform()], cleanups: [] },
    ) : undefined;
    if (exp.contextUrl !== undefined) {
      // The context is the URL; the Dockerfile is the one in it (or exp.dockerfile inside it).
      await runBuildPipeline({
        context: gc!.subst(exp.contextUrl), tags: [tag], store: env.store, cache: env.cache, runtime: env.runtime, ssh: gc!.ssh,
        ...(exp.dockerfile ? { dockerfile: exp.dockerfile } : {}), ...(exp.target ? { target: exp.target } : {}),
        ...(exp.buildArgs ? { buildArgs: exp.buildArgs } : {}),
      });
    } else await env.build({
      events: (e) => events.push(e),
      ...(gc && gc.ssh.length > 0 ? { ssh: gc.ssh } : {}),
      context: ctx, tags: [tag], ...(namedContexts ? { namedContexts } : {}),
      ...(exp.dockerfile === '' ? {} : { dockerfile: exp.dockerfile === undefined ? caseDockerfile : join(ctx, exp.dockerfile) }),
      ...(exp.buildArgs ? { buildArgs: exp.buildArgs } : {}), ...(exp.target ? { target: exp.target } : {}),
      ...(exp.labels ? { labels: exp.labels } : {}), ...(exp.network ? { network: exp.network } : {}), ...(exp.runOptions ?? {}),
      ...(secrets.length > 0 ? { secrets } : {}),
      ...(exp.platform ? { platform: parsePlatform(exp.platform) } : {}),
    });
  } catch (e) {
    await contextsLease?.release();
    if (exp.error === undefined) return [`build failed: ${errorText(e).split('\n').slice(0, 6).join(' | ')}`];
    const text = errorText(e);
    const missing = [exp.error].flat().filter((w) => !text.includes(w));
    return missing.length === 0 ? [] : [`error does not contain ${JSON.stringify(missing)}: ${text.slice(0, 400)}`];
  }
  await contextsLease?.release();
  if (exp.error !== undefined) return [`build succeeded, expected error ${JSON.stringify(exp.error)}`];
  const out: string[] = [];
  if (exp.files) {
    const tree = await imageTree(env.store, tag);
    for (const [p, want] of Object.entries(exp.files)) out.push(...checkFile(p, want, tree.get(p)));
  }
  const img = await env.store.image(tag);
  if (exp.layers !== undefined && img.manifest.layers.length !== exp.layers) {
    out.push(`${img.manifest.layers.length} layers, expected ${exp.layers}`);
  }
  const history = img.config.history ?? [];
  if (exp.historyLength !== undefined && history.length !== exp.historyLength) {
    out.push(`${history.length} history entries, expected ${exp.historyLength}`);
  }
  if (exp.history) {
    const got = history.slice(-exp.history.length);
    exp.history.forEach((h, i) => {
      const g = got[i];
      if (h.createdBy !== undefined && !(g?.created_by ?? '').includes(h.createdBy)) {
        out.push(`history[${i}].created_by ${JSON.stringify(g?.created_by)} does not contain ${JSON.stringify(h.createdBy)}`);
      }
      if (h.emptyLayer !== undefined && (g?.empty_layer ?? false) !== h.emptyLayer) {
        out.push(`history[${i}].empty_layer ${String(g?.empty_layer)}, expected ${String(h.emptyLayer)}`);
      }
    });
  }
  if (exp.author !== undefined && img.config.author !== exp.author) {
    out.push(`author ${JSON.stringify(img.config.author)}, expected ${JSON.stringify(exp.author)}`);
  }
  if (exp.created !== undefined) {
    const got = img.config.created === undefined ? undefined : new Date(img.config.created).toISOString().replace('.000Z', 'Z');
    if (got !== exp.created) out.push(`created ${String(got)}, expected ${exp.created}`);
    history.forEach((h, i) => {
      const c = h.created === undefined ? undefined : new Date(h.created).toISOString().replace('.000Z', 'Z');
      // An earlier time is the base image's own entry, which BuildKit keeps (its exporter clamps, patchImageConfig).
      if (c !== exp.created && !(c !== undefined && c < exp.created!)) out.push(`history[${i}].created ${String(c)}, expected ${exp.created}`);
    });
  }
  if (exp.config) {
    const cfg = (img.config.config ?? {}) as Record<string, unknown>;
    for (const [k, want] of Object.entries(exp.config)) {
      const got = JSON.stringify(canonical(cfg[k] ?? null));
      if (got !== JSON.stringify(canonical(want))) out.push(`config.${k}: ${got}, expected ${JSON.stringify(want)}`);
    }
  }
  return out;
}
