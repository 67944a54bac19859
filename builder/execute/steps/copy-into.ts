/**
 * COPY/ADD materialisation: the selected sources (context or stage files, downloads, heredocs) copied into the
 * merged overlay of the stage at the destination, with --chown, --chmod, --exclude, --parents, ADD's archive
 * extraction, and, for a whole unchanged context directory, hard links from the previous build's layer.
 */
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fsPath } from '../../../layer-store/index.js';
import { resolveUser } from '../../../runtime-exec/index.js';
import type { AddInstruction, CopyInstruction } from '../../frontend/index.js';
import { ContextMatcher, type SelectedSource } from '../../context/index.js';
import { archiveKind, extractArchive, type Fetched } from '../add.js';
import type { StepCall } from '../context.js';
import { createdDirMode, parseChmod } from '../chmod.js';
import { copyIntoRootfs, mkdirAllScoped, type CopySource, type Owner } from '../copy.js';
import { previousTree, type Scratch } from '../workspace.js';

/** The sources a COPY/ADD step copies, as copyStep chose them. */
export interface Selection {
  /** Context (or source stage) paths, .dockerignore applied. */
  readonly sources: readonly SelectedSource[];
  /** The directory `sources` are relative to: the context, or the source stage's view. */
  readonly root: string;
  readonly downloads: readonly Fetched[];
  /** The context files' fingerprints by path (hashSources), for reusing the previous layer's unchanged files. */
  readonly files: Record<string, string> | undefined;
}

export interface CopyTarget {
  /** Absolute destination in the image. */
  readonly dest: string;
  /** The destination was written as a directory (`dir/`, `.`). */
  readonly destIsDirSyntax: boolean;
  /** The step's keyed instruction: the previous build's layer is reused only for the same one. */
  readonly instruction: string;
}

/**
 * `keep`: the selected paths (context-relative); `filtered`: only they are copied even from a stage (COPY
 * --parents); `base`: the source's path in its root.
 */
type Source = CopySource & { keep?: Set<string>; filtered?: boolean; base: string; archive?: boolean };

/** Copies `sel` into `merged` (the stage's overlay, upper dir `s.upper`) as `ins` says. */
export async function copyInto(call: StepCall, ins: CopyInstruction | AddInstruction, merged: string, s: Scratch, sel: Selection, t: CopyTarget): Promise<void> {
  const { ctx, id } = call;
  const from = ins.kind === 'copy' ? ins.from : undefined;
  const heredocs = ins.sourceContents;
  const multiple = sel.sources.length + heredocs.length + sel.downloads.length > 1;
  let owner: Owner | undefined;
  if (ins.chown) {
    owner = await resolveChown(s.lower ?? [], ins.chown);
  } else if (!from) {
    owner = { uid: 0, gid: 0 };
  }
  const chmodFn = ins.chmod ? parseChmod(ins.chmod) : undefined;
  // fsutil's copy creates the destination and its missing parents with an octal --chmod's permission bits (a
  // symbolic one leaves them 0755), owned as --chown says.
  const dirMode = createdDirMode(ins.chmod);
  const parents = ins.kind === 'copy' && ins.parents;
  const excludeMatcher = ins.exclude.length > 0 ? new ContextMatcher(ins.exclude) : undefined;
  const sources: Source[] = [];
  for (const one of sel.sources) {
    const hostPath = join(sel.root, one.resolvedPath);
    const stt = await lstat(fsPath(hostPath));
    const keep = new Set(one.entries.map((e) => e.relPath));
    const name = basename(one.relPath === '.' ? sel.root : one.relPath);
    const archive = ins.kind === 'add' && ins.unpack !== false && stt.isFile() && (await archiveKind(hostPath)) !== undefined;
    // Nothing below is excluded (no .dockerignore patterns, no --exclude, not a COPY --parents selection) and no
    // socket needs turning into a file: the fast whole-tree copy may be used.
    const wholeTree = stt.isDirectory() && ins.exclude.length === 0 && !parents && (from !== undefined || ctx.ignore.patterns.length === 0)
      && !one.entries.some((e) => e.type === 'other' && e.stat.isSocket());
    // The context walk's entries below the source dir, for an edited COPY that brings the previous tree up to date.
    const prefix = one.resolvedPath === '.' ? '' : `${one.resolvedPath}/`;
    const tree = wholeTree && !from ? one.entries.filter((e) => e.relPath.startsWith(prefix)).map((e) => ({ rel: e.relPath.slice(prefix.length), stat: e.stat })) : undefined;
    // COPY --parents (selectParents): the base's contents, only the selected paths, keep their path below it.
    sources.push({ hostPath, name, stat: stt, keep, base: one.resolvedPath, archive, wholeTree, ...(tree ? { tree } : {}), ...(parents ? { filtered: true } : {}) });
  }
  // A download is extracted only with an explicit --unpack=true (BuildKit's AttemptUnpack for http sources).
  for (const d of sel.downloads) {
    const archive = ins.kind === 'add' && ins.unpack === true && (await archiveKind(d.path)) !== undefined;
    sources.push({ hostPath: d.path, name: d.name, stat: await lstat(d.path), base: '', archive });
  }
  const heredocDir = join(s.dir, 'heredocs');
  for (const h of heredocs) {
    await mkdir(heredocDir, { recursive: true });
    const f = join(heredocDir, basename(h.path));
    await writeFile(f, h.data, { mode: 0o644 });
    sources.push({ hostPath: f, name: basename(h.path), stat: await lstat(f), base: '' });
  }
  for (const src of sources) {
    const keep = src.keep;
    const base = src.base;
    if (src.archive) {
      const kind = (await archiveKind(src.hostPath))!;
      const target = await mkdirAllScoped(merged, t.dest, owner ?? { uid: 0, gid: 0 });
      // --chown owns every extracted entry (moby's ChownOpts); without it the archive's owners are kept.
      await extractArchive(src.hostPath, kind, target, ctx.signal, ins.chown ? owner : undefined, src.name);
      continue;
    }
    const needsFilter = !src.wholeTree || excludeMatcher !== undefined;
    await copyIntoRootfs(merged, [src], t.dest, t.destIsDirSyntax || multiple || parents, {
      owner,
      dirMode,
      commands: ctx.commands,
      previous: src.wholeTree && !from ? await previousTree(ctx, id, t.instruction, sel.files, base, s) : undefined,
      chmod: chmodFn,
      exclude: !needsFilter ? undefined : (rel) => {
        const full = base && base !== '.' ? `${base}/${rel}` : rel;
        if (keep && (!from || src.filtered) && !keep.has(full)) return true;
        if (excludeMatcher && excludeMatcher.isExcluded(rel)) return true;
        return false;
      },
    });
  }
  // A wildcard that matches nothing copies nothing (BuildKit allows it); a missing plain source already failed.
  // COPY --parents whose pattern matches nothing still made the destination (the base was copied, empty).
}

/** `--chown=user[:group]`: numeric ids as given (group defaults to the uid), names from the stage's /etc/passwd and /etc/group. */
async function resolveChown(lower: readonly string[], chown: string): Promise<Owner> {
  const [u = '', g] = chown.split(':');
  const numeric = /^\d+$/;
  if (numeric.test(u) && (g === undefined || numeric.test(g))) return { uid: Number(u), gid: g === undefined ? Number(u) : Number(g) };
  const r = await resolveUser(lower, chown);
  return { uid: r.uid, gid: r.gid };
}
