/**
 * builder/execute: runs a resolved Dockerfile. Each stage starts from its base (scratch, an image in the store,
 * or an earlier stage); metadata instructions change the config; RUN runs in a container over an overlay of
 * the parent layers' snapshots; COPY/ADD/WORKDIR write through an overlay mount; every upper directory becomes
 * a content-addressed layer (and, renamed, that layer's snapshot). The image is committed last: blobs, config,
 * manifest, then the tags. A failure leaves only unreferenced blobs and no moved tag.
 *
 * This file only orchestrates: read the Dockerfile → parse → resolve the stage graph → schedule the stages
 * (stage.ts; steps in steps/) → commit (commit.ts). The pure parts (config changes, history, key material) are
 * builder/plan; the build's shared state is context.ts; overlay and layer work is workspace.ts.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve as resolvePath, basename } from 'node:path';
import { TsbuildError, hostPlatform, noopEvents, noopLogger, Lease, normalizeTagName } from '../../layer-store/index.js';
import { ShellRunner, defaultBundleParent } from '../../runtime-exec/index.js';
import { StatCache } from '../../cache/index.js';
import { assertDockerfileNotEmpty, chooseFrontend, parseDockerfile, toStages, resolveStageGraph, type StageGraph } from '../frontend/index.js';
import { loadDockerignore } from '../context/index.js';
import { BuildError } from '../plan/index.js';
import { reclaimStaleScratch } from './recover.js';
import { checkEntitlements } from './entitlements.js';
import { stagePlatform } from './base-platform.js';
import { diffIdsOf, inBackground, settleBackground, type BuildCtx, type StageState } from './context.js';
import { commitImage } from './commit.js';
import type { BuildOptions, BuildResult } from './options.js';
import { runStage } from './stage.js';
import { validateSecrets } from './steps/run-mounts.js';
import { resolveEpoch, withEpochArg } from './epoch.js';
import { buildChecks, checksBeforeFailure } from './checks.js';
import { SshAgents } from './ssh-agent.js';
import { checkRunSettings } from './steps/run-spec.js';

export type { BuildObserver, BuildOptions, BuildResult, SecretSource, StepReport } from './options.js';

/**
 * Returns the built image after committing it to the store and tagging it. Runs only the stages the target
 * needs; independent stages run concurrently. Throws TsbuildError with the Dockerfile location on failure,
 * after removing every temporary directory and mount it made.
 */
export async function build(o: BuildOptions): Promise<BuildResult> {
  validateSecrets(o.secrets ?? []);
  checkRunSettings(o);
  for (const t of o.tags ?? []) normalizeTagName(t); // a bad name fails now, not after the build (InvalidReferenceError)
  const contextDir = resolvePath(o.context);
  let cst;
  try { cst = statSync(contextDir); } catch { cst = undefined; } // any error: not a usable directory, as before
  if (!cst?.isDirectory()) {
    throw new BuildError(`build context ${o.context} is not a directory`, { location: { ref: o.context }, hint: 'pass the directory that holds your sources, e.g. `tsbuild -t app .`' });
  }
  const dockerfile = o.dockerfileContent !== undefined ? 'Dockerfile' : o.dockerfile ?? defaultDockerfile(contextDir);
  const bytes = o.dockerfileContent !== undefined ? Buffer.from(o.dockerfileContent) : await readDockerfile(dockerfile);
  const fileLabel = o.dockerfileContent !== undefined ? 'Dockerfile' : o.dockerfileLabel ?? o.dockerfile ?? basename(dockerfile);
  // The frontend first, as BuildKit picks it before it parses anything: only the built-in one can run here.
  const frontend = chooseFrontend(bytes, { file: fileLabel, buildArgs: o.buildArgs });
  assertDockerfileNotEmpty(bytes, fileLabel);
  o.observe?.dockerfile?.(fileLabel, bytes);
  const ast = parseDockerfile(bytes, { file: fileLabel });
  const events = o.events ?? noopEvents;
  if (frontend.namedBy !== 'none') events({ type: 'info', message: `frontend: ${frontend.description}`, data: { frontend } });
  for (const w of ast.warnings) events({ type: 'warning', message: w.message, location: { file: fileLabel, line: w.line } });
  const platform = o.platform ?? hostPlatform();
  const given = withEpochArg(o.buildArgs ?? {}, o.sourceDateEpoch);
  let graph: StageGraph;
  let buildArgs: Readonly<Record<string, string | undefined>>;
  let epoch: number | undefined;
  try {
    const { stages, metaArgs } = toStages(ast, fileLabel);
    const resolved = resolveStageGraph(stages, metaArgs, {
      ...(o.target !== undefined ? { target: o.target } : {}),
      buildArgs: given,
      platform: { target: platform, build: hostPlatform() },
      escapeToken: ast.directives.escape,
      ...(o.namedContexts ? { namedContexts: o.namedContexts } : {}),
    });
    // SOURCE_DATE_EPOCH (epoch.ts): the build arg, the option or the Dockerfile's global ARG; the steps see it in ctx.o.
    ({ epoch, buildArgs, graph } = await resolveEpoch({ stages, metaArgs, graph: resolved, buildArgs: given, escapeToken: ast.directives.escape, ...(o.signal ? { signal: o.signal } : {}) }));
    for (const rs of graph.order) stagePlatform(rs, platform); // a bad FROM --platform fails before any work
  } catch (e) {
    checksBeforeFailure(ast, o, platform, events); // BuildKit reports the warnings found before the error
    throw e;
  }
  const opts: BuildOptions = { ...o, buildArgs, sourceDateEpoch: epoch };
  const ignore = await loadDockerignore(contextDir, o.dockerfileContent !== undefined ? undefined : o.dockerfile);
  if (ignore.excludesDockerfile && o.dockerfileContent === undefined) events({ type: 'warning', message: `.dockerignore excludes the Dockerfile (${basename(dockerfile)}); it is still used for the build but COPY cannot copy it` });
  for (const a of graph.unusedBuildArgs) events({ type: 'warning', message: `build argument ${a} was not consumed by any stage` });
  checkEntitlements(graph, o.allow ?? []);

  // Agents first: a bad --ssh fails before any work. Private ones (ID=KEYFILE) live as long as the build (ssh-agent.ts).
  const ownAgents = !o.sshAgents && o.ssh?.length ? await SshAgents.open(o.ssh, o.signal ? { signal: o.signal } : {}) : undefined;
  const root = o.store.root;
  let lease: Lease;
  let tmp: string;
  try {
    await reclaimStaleScratch(o.store.layout, o.logger ?? noopLogger);
    // Taken before anything is read or written, so everything this build writes is covered by it (lease.ts).
    lease = o.lease ?? (await Lease.acquire(root, o.signal ? { signal: o.signal } : {}));
    tmp = o.store.layout.scratchPath('build', randomUUID());
    mkdirSync(tmp, { recursive: true });
  } catch (e) {
    await ownAgents?.close();
    throw e;
  }
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const created = epoch !== undefined ? new Date(epoch * 1000).toISOString() : new Date().toISOString();
  const ctx: BuildCtx = {
    o: opts, layout: o.store.layout, tmp, events, log: o.logger ?? noopLogger, signal: ac.signal, cancel: o.signal ?? new AbortController().signal, platform, created, graph, ast, ignore, contextDir, namedDirs: new Map(),
    results: new Map(), steps: [],
    statCache: o.cache ? await StatCache.open(o.store.layout.cacheStatDir, { name: contextDir }) : undefined,
    cacheMountLocks: new Map(),
    records: new Map(),
    cacheMountsUsed: new Map(),
    lease,
    background: [],
    previous: new Map(),
    commands: new ShellRunner({ dir: defaultBundleParent() }), // its files on a tmpfs: a few are made at every step
    ssh: o.sshAgents ?? ownAgents,
    contextFilesSelected: [],
  };
  try {
    const checks = o.checks === false ? undefined : await buildChecks(ctx);
    for (const rs of graph.order) {
      const deps = rs.dependsOn.map((i) => ctx.results.get(i)!);
      const p = Promise.all(deps).then(() => runStage(ctx, rs));
      p.catch(() => ac.abort());
      ctx.results.set(rs.index, p);
    }
    let final: StageState;
    try {
      final = await ctx.results.get(graph.target)!;
    } catch (e) {
      await Promise.allSettled([...ctx.results.values()]);
      checks?.later(); // the warnings of the steps that selected their sources, on failure too
      throw e;
    }
    await Promise.allSettled([...ctx.results.values()]);
    await settleBackground(ctx);
    if (ctx.statCache) await ctx.statCache.save().catch(() => undefined);
    if (o.observe?.stage) {
      for (const rs of graph.order) if (rs.index !== graph.target) o.observe.stage(rs.displayName, await diffIdsOf((await ctx.results.get(rs.index)!).layers), platform);
    }
    const warnings = checks ? [...checks.warnings, ...checks.later()] : [];
    return { ...(await commitImage(ctx, final)), checks: warnings };
  } finally {
    // Nothing may still write below tmp (or into the store) once the build has returned or thrown.
    await Promise.allSettled(ctx.background);
    await ctx.commands.close().catch(() => undefined);
    o.signal?.removeEventListener('abort', onAbort);
    // Most builds leave it empty (a cached one always): one rmdir, else the recursive removal, synchronous: the
    // steps' scratch dirs (overlay work dirs) are ~6 entries a step, and an async call per entry waited in the thread
    // pool behind the last layers' writes and fsyncs (W5 edit: 15-160 ms before the build returned).
    try { rmdirSync(tmp); } catch { try { rmSync(tmp, { recursive: true, force: true }); } catch { /* left to the next build's reclaimStaleScratch */ } }
    if (!o.lease) await lease.release();
    await ownAgents?.close();
  }
}

/** `<context>/Dockerfile`, or a lowercase `<context>/dockerfile` when only that exists (as BuildKit's dockerui). */
/** Returns the Dockerfile's bytes; an unreadable one is DOCKERFILE_NOT_FOUND naming the path and the fix. */
export async function readDockerfile(path: string): Promise<Buffer> {
  try {
    return readFileSync(path); // small: synchronous (an async read is four thread-pool round trips)
  } catch (e) {
    throw new TsbuildError('DOCKERFILE_NOT_FOUND', `cannot read Dockerfile ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      location: { ref: path }, hint: 'pass the Dockerfile with -f FILE, or add a Dockerfile to the context', cause: e,
    });
  }
}

export function defaultDockerfile(contextDir: string): string {
  const upper = join(contextDir, 'Dockerfile');
  const lower = join(contextDir, 'dockerfile');
  return !existsSync(upper) && existsSync(lower) ? lower : upper;
}
