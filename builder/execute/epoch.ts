/**
 * The build's SOURCE_DATE_EPOCH: `--build-arg SOURCE_DATE_EPOCH`, else the `sourceDateEpoch` option (the CLI's
 * `$SOURCE_DATE_EPOCH`, as buildx turns it into that build arg), else a global `ARG SOURCE_DATE_EPOCH=…` in the
 * Dockerfile (frontend's sourceDateEpochSource). A source-only stage's URL is read here, as BuildKit's
 * ResolveSourceMetadata does: its Last-Modified, else the newest regular file of the archive it serves, else none.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { TarReader, decompressed, withLocation } from '../../layer-store/index.js';
import { SOURCE_DATE_EPOCH, sourceDateEpochSource, type ArgInstruction, type EscapeToken, type Stage, type StageGraph } from '../frontend/index.js';
import { BuildError } from '../plan/index.js';
import { loc } from './context.js';
import { webFetch } from '../../registry-client/index.js';

/** The build args the stages see, given the `sourceDateEpoch` option (a build arg of that name wins over it). */
export function withEpochArg(buildArgs: Readonly<Record<string, string | undefined>>, option: number | undefined): Readonly<Record<string, string | undefined>> {
  if (option === undefined || buildArgs[SOURCE_DATE_EPOCH] !== undefined) return buildArgs;
  return { ...buildArgs, [SOURCE_DATE_EPOCH]: String(option) };
}

export interface ResolvedEpoch {
  /** Unix seconds, or undefined for none. */
  readonly epoch: number | undefined;
  /** The build args with SOURCE_DATE_EPOCH as resolved (seconds, or removed), as BuildKit rewrites it. */
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  /** The graph with the global SOURCE_DATE_EPOCH likewise rewritten. */
  readonly graph: StageGraph;
}

/** Resolves SOURCE_DATE_EPOCH for the build (see the file comment). Throws DockerfileError or BuildError. */
export async function resolveEpoch(o: {
  readonly stages: readonly Stage[];
  readonly metaArgs: readonly ArgInstruction[];
  readonly graph: StageGraph;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly escapeToken?: EscapeToken;
  readonly signal?: AbortSignal;
}): Promise<ResolvedEpoch> {
  const declaredAt = o.metaArgs.find((m) => m.args.some((a) => a.key === SOURCE_DATE_EPOCH))?.location;
  const src = sourceDateEpochSource({
    stages: o.stages, metaScope: o.graph.metaScope, buildArgs: o.buildArgs,
    ...(declaredAt ? { declaredAt } : {}), ...(o.escapeToken ? { escapeToken: o.escapeToken } : {}),
  });
  let epoch: number | undefined;
  if (src?.kind === 'seconds') epoch = src.seconds;
  else if (src?.kind === 'url') {
    try {
      epoch = await epochOfUrl(src.url, src.checksum, o.signal);
    } catch (e) {
      throw withLocation(e as Error, loc(src.location));
    }
  }
  const buildArgs = { ...o.buildArgs };
  const metaScope = new Map(o.graph.metaScope);
  if (epoch === undefined) {
    delete buildArgs[SOURCE_DATE_EPOCH];
    metaScope.delete(SOURCE_DATE_EPOCH);
  } else {
    if (Object.hasOwn(buildArgs, SOURCE_DATE_EPOCH)) buildArgs[SOURCE_DATE_EPOCH] = String(epoch);
    if (metaScope.has(SOURCE_DATE_EPOCH)) metaScope.set(SOURCE_DATE_EPOCH, String(epoch));
  }
  return { epoch, buildArgs, graph: { ...o.graph, metaScope } };
}

/**
 * Returns the time of a URL in Unix seconds: its Last-Modified header, else the newest mtime of the regular files
 * of the (plain, gzip or zstd) tar it serves, else undefined (not an archive). Verifies `checksum` when it reads
 * the body. Throws BuildError when the download fails or the checksum differs.
 */
async function epochOfUrl(url: string, checksum: string | undefined, signal?: AbortSignal): Promise<number | undefined> {
  const res = await webFetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) }).catch((e: unknown) => {
    throw new BuildError(`${SOURCE_DATE_EPOCH}: cannot download ${url}: ${(e as Error).message}`, { hint: 'check the URL of the stage that gives SOURCE_DATE_EPOCH', cause: e });
  });
  if (res.status >= 300) {
    await res.body?.cancel();
    throw new BuildError(`${SOURCE_DATE_EPOCH}: download of ${url} failed with HTTP ${res.status}`, { hint: 'check the URL of the stage that gives SOURCE_DATE_EPOCH' });
  }
  const lm = res.headers.get('last-modified');
  if (lm && !Number.isNaN(Date.parse(lm)) && checksum === undefined) {
    await res.body?.cancel();
    return Math.floor(Date.parse(lm) / 1000);
  }
  let source: Readable;
  if (checksum !== undefined) {
    // Verified before it is read: held in memory (a stage that gives the epoch serves one archive).
    const bytes = Buffer.from(await res.arrayBuffer());
    const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (got !== checksum) {
      throw new BuildError(`${SOURCE_DATE_EPOCH}: checksum mismatch for ${url}: expected ${checksum}, got ${got}`, { hint: 'fix ADD --checksum or the URL' });
    }
    if (lm && !Number.isNaN(Date.parse(lm))) return Math.floor(Date.parse(lm) / 1000);
    source = Readable.from([bytes]);
  } else {
    source = Readable.fromWeb(res.body as never);
  }
  let newest: number | undefined;
  const tar = new TarReader(decompressed(source, signal));
  try {
    for (let e = await tar.next(); e !== null; e = await tar.next()) {
      if (e.type === 'file' && (newest === undefined || e.mtime > newest)) newest = Math.floor(e.mtime);
    }
  } catch {
    newest = undefined; // not an archive: no time (BuildKit's allowNonArchive)
  } finally {
    await tar.close();
    source.destroy();
  }
  return newest;
}
