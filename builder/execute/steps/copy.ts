/**
 * COPY and ADD: choosing the sources (the context with .dockerignore, or a stage's or image's filesystem;
 * ADD's downloads; heredocs), keying them (plan's copyKey + the selected files' digest, or the source stage's
 * layers for --from), and, on a miss, copying them into an overlay of the stage (copy-into.ts).
 * A `--from` source is mounted only when the step runs: a cache hit reads nothing of the source stage.
 *
 * Left behind on failure: downloads and views are undone by this step's LIFO cleanup stack; the scratch dirs
 * are below the build's tmp dir.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { TsbuildError, type Digest } from '../../../layer-store/index.js';
import { hashSources, type StepInputs } from '../../../cache/index.js';
import type { AddInstruction, CopyInstruction } from '../../frontend/index.js';
import { ContextError, ContextMatcher, MissingSourceError, selectParentsSources, selectSources, type ContextEntry, type SourceSelection } from '../../context/index.js';
import { BuildError, cc, commitHistory, copyCreatedBy, copyKey, layersKey } from '../../plan/index.js';
import { fetchUrl, type Fetched } from '../add.js';
import { checkGitSources, fetchAddGit, gitSource } from '../add-git.js';
import { sourceLayers } from '../base-image.js';
import { sourceDir } from '../named-dirs.js';
import { cachedStep, stepInputs } from '../cached-step.js';
import { diffIdsOf, loc, type StepCall } from '../context.js';
import { commitUpper, mountView, scratchDirs, withMerged } from '../workspace.js';
import { copyInto, type Selection } from './copy-into.js';

const isUrl = (src: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(src);

/** Rejects what COPY/ADD cannot take: URLs for COPY, git sources, non-http(s) URLs. */
function checkSources(ins: CopyInstruction | AddInstruction): void {
  checkGitSources(ins);
  for (const src of ins.sources) {
    if (ins.kind === 'copy' && isUrl(src)) throw new BuildError(`COPY does not download URLs (${src})`, { hint: 'use ADD for URLs' });
    if (gitSource(src)) continue; // ADD of a git repository: add-git.ts
    if (isUrl(src) && !/^https?:\/\//i.test(src)) throw new BuildError(`ADD ${src}: only http and https URLs can be downloaded`, { hint: 'put the file into the build context' });
  }
}

/** The kinds of the sockets, fifos and devices a context selection holds, for the key (copyKey's `specials`). */
function specialsOf(sel: SourceSelection | undefined): string {
  const kind = (e: ContextEntry): string => (e.stat.isSocket() ? 'socket' : e.stat.isFIFO() ? 'fifo'
    : `${e.stat.isCharacterDevice() ? 'char' : 'block'}${e.stat.rdev}`);
  const out = new Set<string>();
  for (const s of sel?.sources ?? []) for (const e of s.entries) if (e.type === 'other') out.add(`${kind(e)}:${e.relPath}`);
  return [...out].sort().join(',');
}

/** Runs one COPY or ADD step through the cache; appends its layer and its history entry. */
export async function copyStep(call: StepCall, ins: CopyInstruction | AddInstruction): Promise<void> {
  const { ctx, stage: rs, state: st, id } = call;
  const c = cc(st.config);
  const from = ins.kind === 'copy' ? ins.from : undefined;
  const cwd = c.WorkingDir || '/';
  const destIsDirSyntax = ins.dest.endsWith('/') || ins.dest === '.' || ins.dest.endsWith('/.');
  const dest = posix.isAbsolute(ins.dest) ? ins.dest : posix.join(cwd, ins.dest);
  checkSources(ins);
  const gitSources = ins.kind === 'add' ? ins.sources.filter((x) => gitSource(x)) : [];
  const urlSources = ins.sources.filter((x) => isUrl(x) && !gitSources.includes(x));
  const localSources = ins.sources.filter((x) => !isUrl(x) && !gitSources.includes(x));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const downloads: Fetched[] = [];
    if (urlSources.length > 0) {
      const dl = join(ctx.tmp, `download-${randomUUID().slice(0, 8)}`);
      await mkdir(dl, { recursive: true });
      cleanups.push(() => rm(dl, { recursive: true, force: true }));
      for (const u of urlSources) {
        ctx.events({ type: 'step.log', id, stream: 'stderr', data: `downloading ${u}\n` });
        downloads.push(await fetchUrl(u, dl, ins.kind === 'add' ? ins.checksum : undefined, ctx.signal));
      }
    }
    // A git source is checked out in the git cache and copied as a directory; its key names the commit.
    for (const g of gitSources) downloads.push(await fetchAddGit(ctx, ins as AddInstruction, g, (data) => ctx.events({ type: 'step.log', id, stream: 'stderr', data })));
    // Resolve the sources: from the context (with .dockerignore), or from a stage / image filesystem.
    let srcRoot: string;
    let matcher: ContextMatcher;
    let sourceKey: string;
    // A directory named context is read as the context is: its own .dockerignore, its files' digest in the key.
    const dirSource = from !== undefined ? await sourceDir(ctx, from) : undefined;
    const fromLayers = from !== undefined && !dirSource;
    if (dirSource) {
      srcRoot = dirSource.dir;
      matcher = dirSource.ignore.matcher;
      sourceKey = 'context';
    } else if (from) {
      // The key names the source stage's layers; its files are looked at only when the step runs (a cache hit
      // mounts nothing of the source stage).
      const layers = await sourceLayers(ctx, rs, from, ins.location);
      srcRoot = '';
      matcher = ContextMatcher.none;
      sourceKey = layersKey(await diffIdsOf(layers));
    } else {
      srcRoot = ctx.contextDir;
      matcher = ctx.ignore.matcher;
      sourceKey = 'context';
    }
    const parents = ins.kind === 'copy' && ins.parents;
    const selectIn = (root: string): Promise<SourceSelection> => localSources.length === 0
      ? Promise.resolve({ sources: [], paths: [] })
      : (parents ? selectParentsSources : selectSources)(root, localSources, matcher, { signal: ctx.signal });
    const where = from ? (/^\d+$/.test(from) ? `stage ${from}` : from) : 'the build context';
    const select = async (): Promise<SourceSelection> => {
      try {
        if (!fromLayers) return await selectIn(srcRoot);
        srcRoot = await mountView(ctx, await sourceLayers(ctx, rs, from!), cleanups);
        return await selectIn(srcRoot);
      } catch (e) {
        // BuildKit's words for a missing source (`"/path": not found`); a --from source names the stage, not the
        // temporary mount the files were looked for in.
        if (e instanceof MissingSourceError) {
          const message = `${ins.kind.toUpperCase()} source ${JSON.stringify(e.path)}: not found in ${where}`;
          if (!fromLayers) throw new ContextError(message, { hint: e.hint ?? 'check the path in the build context' });
          throw new BuildError(message, { hint: `check the path in the filesystem of --from=${from}` });
        }
        if (fromLayers && TsbuildError.is(e) && e.code === 'CONTEXT') {
          throw new BuildError(`${e.message.replace('in the build context', `in ${where}`)}`, { hint: `check the path in the filesystem of --from=${from}` });
        }
        throw e;
      }
    };
    const contextSelection = fromLayers ? undefined : await select();
    // The build context's files it selects, for SecretInLayer (checks.ts): the walk is done, the names are here.
    if (contextSelection && !dirSource) ctx.contextFilesSelected.push(contextSelection.sources.flatMap((x) => x.entries.filter((e) => e.type !== 'dir').map((e) => e.relPath)));
    let sourcesDigest: string;
    let files: Readonly<Record<string, string>> | undefined;
    if (contextSelection && ctx.statCache) {
      // An unchanged selection is answered without its per-file fingerprints; a miss gets them (`detail` below).
      const h = await hashSources(srcRoot, contextSelection, ctx.statCache, { ownership: ins.chown === undefined ? false : true, signal: ctx.signal, memo: true, commands: ctx.commands });
      sourcesDigest = h.digest;
      files = h.files;
    } else {
      sourcesDigest = sourceKey;
    }
    const inputs: StepInputs = {
      ...stepInputs(call, copyKey(ins, cwd, fromLayers ? { name: from!, layers: sourceKey } : undefined, downloads, specialsOf(contextSelection))),
      ...(fromLayers ? {} : { sources: { digest: sourcesDigest as Digest, ...(files ? { files } : {}) } }),
    };
    const statCache = ctx.statCache;
    const detail = contextSelection && statCache && !files ? async (): Promise<StepInputs> => {
      const h = await hashSources(srcRoot, contextSelection, statCache, { ownership: ins.chown === undefined ? false : true, signal: ctx.signal, commands: ctx.commands });
      if (h.digest !== sourcesDigest) return inputs; // changed since: this run's files are not the key's
      files = h.files;
      return { ...inputs, sources: { digest: h.digest, files } };
    } : undefined;
    const r = await cachedStep(call, inputs, async () => {
      const s = await scratchDirs(ctx, 'copy');
      // A source stage's view is mounted while this step's overlay is (two helper processes at once).
      const selecting = contextSelection ? Promise.resolve(contextSelection) : select();
      selecting.catch(() => undefined);
      // Settled before this step's cleanups run, so a view mounted late is still unmounted.
      cleanups.push(() => selecting.then(() => undefined, () => undefined));
      await withMerged(ctx, st.layers, s, async (merged) => {
        const { sources } = await selecting; // srcRoot is the view's mount point from here on (--from)
        const selection: Selection = { sources, root: srcRoot, downloads, files };
        await copyInto(call, ins, merged, s, selection, { dest, destIsDirSyntax, instruction: inputs.instruction });
      });
      // The location: a failure of its blob, compressed behind the next step, surfaces after this step.
      const layer = await commitUpper(ctx, s, id, { location: loc(ins.location) });
      return layer ? { layer } : {};
    }, detail ? { detail } : {});
    if (r.layer) st.layers.push(r.layer);
    commitHistory(st.config, copyCreatedBy(ins.kind, ins.sources, ins.sourceContents.map((h) => h.path), ins.dest), r.layer !== undefined, st.time);
  } finally {
    for (const cl of cleanups.reverse()) await cl().catch(() => undefined);
  }
}
