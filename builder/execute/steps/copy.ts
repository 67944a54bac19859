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
import { ContextMatcher, selectSources } from '../../context/index.js';
import { BuildError, cc, commitHistory, copyCreatedBy, copyKey, layersKey } from '../../plan/index.js';
import { fetchUrl, type Fetched } from '../add.js';
import { sourceLayers } from '../base-image.js';
import { cachedStep, stepInputs } from '../cached-step.js';
import type { StepCall } from '../context.js';
import { commitUpper, mountView, scratchDirs, withMerged } from '../workspace.js';
import { copyInto, type Selection } from './copy-into.js';

const isUrl = (src: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(src);

/** Rejects what COPY/ADD cannot take: URLs for COPY, git sources, non-http(s) URLs. */
function checkSources(ins: CopyInstruction | AddInstruction): void {
  for (const src of ins.sources) {
    if (ins.kind === 'copy' && isUrl(src)) throw new BuildError(`COPY does not download URLs (${src})`, { hint: 'use ADD for URLs' });
    if (/^git@/.test(src) || (isUrl(src) && /\.git(#|$)/.test(src))) {
      throw new BuildError(`ADD from a git repository (${src}) is not supported`, { hint: 'clone the repository into the build context and COPY it' });
    }
    if (isUrl(src) && !/^https?:\/\//i.test(src)) throw new BuildError(`ADD ${src}: only http and https URLs can be downloaded`, { hint: 'put the file into the build context' });
  }
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
  const urlSources = ins.sources.filter(isUrl);
  const localSources = ins.sources.filter((x) => !isUrl(x));
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
    // Resolve the sources: from the context (with .dockerignore), or from a stage / image filesystem.
    let srcRoot: string;
    let matcher: ContextMatcher;
    let sourceKey: string;
    if (from) {
      // The key names the source stage's layers; its files are looked at only when the step runs (a cache hit
      // mounts nothing of the source stage).
      const layers = await sourceLayers(ctx, rs, from, ins.location);
      srcRoot = '';
      matcher = ContextMatcher.none;
      sourceKey = layersKey(layers.map((l) => l.diffId));
    } else {
      srcRoot = ctx.contextDir;
      matcher = ctx.ignore.matcher;
      sourceKey = 'context';
    }
    const select = async (): Promise<Awaited<ReturnType<typeof selectSources>>> => {
      if (!from) return localSources.length > 0 ? selectSources(srcRoot, localSources, matcher, { signal: ctx.signal }) : { sources: [], paths: [] };
      srcRoot = await mountView(ctx, await sourceLayers(ctx, rs, from), cleanups);
      try {
        return localSources.length > 0 ? await selectSources(srcRoot, localSources, matcher, { signal: ctx.signal }) : { sources: [], paths: [] };
      } catch (e) {
        // Name the stage, not the temporary mount the files were looked for in.
        if (TsbuildError.is(e) && e.code === 'CONTEXT') {
          throw new BuildError(`${e.message.replace('in the build context', `in ${/^\d+$/.test(from) ? `stage ${from}` : from}`)}`, { hint: `check the path in the filesystem of --from=${from}` });
        }
        throw e;
      }
    };
    const contextSelection = from ? undefined : await select();
    let sourcesDigest: string;
    let files: Record<string, string> | undefined;
    if (contextSelection && ctx.statCache) {
      const h = await hashSources(srcRoot, contextSelection, ctx.statCache, { ownership: ins.chown === undefined ? false : true, signal: ctx.signal });
      sourcesDigest = h.digest;
      files = { ...h.files };
    } else {
      sourcesDigest = sourceKey;
    }
    const inputs: StepInputs = {
      ...stepInputs(call, copyKey(ins, cwd, from ? { name: from, layers: sourceKey } : undefined, downloads)),
      ...(from ? {} : { sources: { digest: sourcesDigest as Digest, ...(files ? { files } : {}) } }),
    };
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
      const layer = await commitUpper(ctx, s, id);
      return layer ? { layer } : {};
    });
    if (r.layer) st.layers.push(r.layer);
    commitHistory(st.config, copyCreatedBy(ins.kind, ins.sources, ins.sourceContents.map((h) => h.path), ins.dest), r.layer !== undefined, st.time);
  } finally {
    for (const cl of cleanups.reverse()) await cl().catch(() => undefined);
  }
}
