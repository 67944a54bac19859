/**
 * checkDockerfile: what `tsbuild build --check` (buildx `--call=check`) does. It reads the Dockerfile and the
 * .dockerignore, looks the base images up in the store (pulling one only when `pullImage` is given), runs every
 * check on every stage (only `target` and the stages it needs when a target is given, as BuildKit's lint
 * subrequest), and also reports the error the build would fail with before running a step (BuildKit's
 * `buildError`). No step runs; nothing is written but what a pull writes.
 */
import { stat } from 'node:fs/promises';
import { basename, resolve as resolvePath } from 'node:path';
import { TsbuildError, hostPlatform, type LayerStore, type Platform } from '../../layer-store/index.js';
import { loadDockerignore } from '../context/index.js';
import { runChecks, type BaseImageInfo, type CheckWarning } from '../checks/index.js';
import { chooseFrontend, expandWord, isImageReference, parseDockerfile, resolveStageGraph, toStages, type DockerfileAst } from '../frontend/index.js';
import { stagePlatform } from './base-platform.js';
import { defaultDockerfile, readDockerfile } from './build.js';

export interface CheckDockerfileOptions {
  readonly context: string;
  /** Default: `<context>/Dockerfile` (or a lowercase `dockerfile`). */
  readonly dockerfile?: string | undefined;
  readonly buildArgs?: Readonly<Record<string, string | undefined>> | undefined;
  /** Check this stage and the stages it needs; default: every stage. */
  readonly target?: string | undefined;
  readonly platform?: Platform | undefined;
  /** Where base images are looked up (their Env makes UndefinedVar exact); none: bases are unknown and UndefinedVar is not reported for stages FROM an image. */
  readonly store?: LayerStore | undefined;
  /** Puts a base image missing from `store` there (as BuildOptions.pullImage); none: not pulled. */
  readonly pullImage?: ((ref: string, platform: Platform, signal?: AbortSignal) => Promise<void>) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface CheckDockerfileResult {
  /** The Dockerfile's name as warnings give it, and its text (for printing sources). */
  readonly file: string;
  readonly source: string;
  readonly warnings: readonly CheckWarning[];
  /** The error the build would stop with before any step (or `lint violation …` under `error=true`). */
  readonly error?: TsbuildError | Error | undefined;
}

/** Runs the build checks on a Dockerfile without building; see the file header. Throws only for an unreadable file or context. */
export async function checkDockerfile(o: CheckDockerfileOptions): Promise<CheckDockerfileResult> {
  const contextDir = resolvePath(o.context);
  if (!(await stat(contextDir).catch(() => undefined))?.isDirectory()) {
    throw new TsbuildError('BUILD', `build context ${o.context} is not a directory`, { location: { ref: o.context }, hint: 'pass the directory that holds your sources' });
  }
  const path = o.dockerfile ?? defaultDockerfile(contextDir);
  const bytes = await readDockerfile(path);
  const file = o.dockerfile ?? basename(path);
  const source = bytes.toString('utf8');
  chooseFrontend(bytes, { file, buildArgs: o.buildArgs }); // a frontend image tsbuild cannot be is refused, not linted as a Dockerfile
  let ast: DockerfileAst;
  try {
    ast = parseDockerfile(bytes, { file });
  } catch (e) {
    return { file, source, warnings: [], error: e as Error };
  }
  const platform = o.platform ?? hostPlatform();
  const buildArgs = o.buildArgs ?? {};
  let frontEndError: unknown;
  let metaScope: ReadonlyMap<string, string> | undefined;
  let stageNames: string[] = [];
  let bases: string[] = [];
  let built: Set<number> | undefined;
  try {
    const { stages, metaArgs } = toStages(ast, file);
    stageNames = stages.flatMap((s) => (s.name !== undefined ? [s.name] : []));
    const graph = resolveStageGraph(stages, metaArgs, {
      ...(o.target !== undefined ? { target: o.target } : {}), buildArgs, platform: { target: platform, build: hostPlatform() }, escapeToken: ast.directives.escape,
    });
    metaScope = graph.metaScope;
    if (o.target !== undefined) built = new Set(graph.order.map((rs) => rs.index));
    for (const rs of graph.order) stagePlatform(rs, platform);
    const lex = { escapeToken: ast.directives.escape };
    bases = (o.target !== undefined ? graph.order.map((rs) => rs.stage) : stages).map((s) => {
      try {
        return expandWord(s.base, graph.metaScope, lex).value;
      } catch {
        return '';
      }
    });
  } catch (e) {
    frontEndError = e;
  }
  const ignore = await loadDockerignore(contextDir, o.dockerfile);
  // Without a store every base image is unknown (an empty map): UndefinedVar then says nothing about its stages.
  const infos = o.store && metaScope ? await baseInfos(o, bases.filter((b) => isImageReference(b) && b !== 'scratch' && !stageNames.includes(b.toLowerCase())), platform) : new Map<string, BaseImageInfo>();
  const report = runChecks({
    ast, buildArgs, target: o.target, allStages: o.target === undefined, stages: built, platform, buildPlatform: hostPlatform(),
    ignore: ignore.file ? ignore.matcher : undefined, bases: infos,
  });
  const error = report.failure ?? frontEndError ?? report.violation;
  return { file, source, warnings: report.warnings, ...(error !== undefined ? { error: error as Error } : {}) };
}

async function baseInfos(o: CheckDockerfileOptions, refs: readonly string[], platform: Platform): Promise<Map<string, BaseImageInfo>> {
  const out = new Map<string, BaseImageInfo>();
  const store = o.store!;
  for (const ref of new Set(refs)) {
    const look = async () => store.image(ref, { platform }).catch(() => undefined);
    let img = await look();
    if (!img && o.pullImage) {
      await o.pullImage(ref, platform, o.signal).catch(() => undefined);
      img = await look();
    }
    if (!img) continue;
    const c = img.config.config ?? {};
    out.set(ref, { env: c.Env ?? [], shell: (c.Shell?.length ?? 0) > 0, user: c.User ?? '', platform: store.platformOf(img) });
  }
  return out;
}
