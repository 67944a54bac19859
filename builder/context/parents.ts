/**
 * COPY --parents source selection, as BuildKit's Dockerfile frontend and fsutil's copier define it. A source
 * `base/./pattern` is split at its first `/./` (the pivot): the copy starts at `base` (symlinks in it followed,
 * wildcards expanded) and keeps what `pattern` includes with its path below `base`; without a pivot, `base` is
 * the root and the whole path is the pattern. `pattern` is an include pattern with .dockerignore semantics
 * (moby patternmatcher: `*`, `?`, `[…]` per component, `**` any number of directories, and a matched directory
 * brings everything below it). Only when neither part has a wildcard must the path exist.
 */
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { readlinkName, type Abortable } from '../../layer-store/index.js';
import { ContextMatcher, goClean } from './dockerignore.js';
import { MissingSourceError } from './errors.js';
import { compileGoMatch, hasWildcards } from './gomatch.js';
import { expandWildcard, resolveInContext, tryLstat, type SelectedSource, type SourceSelection } from './select.js';
import { compareNames, listContext, type ContextEntry, type ContextEntryType } from './walk.js';

/** A COPY --parents source split at its pivot: `base` and `pattern` cleaned and relative (`.` / `` for none). */
export interface ParentsSource {
  readonly base: string;
  readonly pattern: string;
}

/** Splits a COPY --parents source at its first `/./` (BuildKit's strings.Cut); no pivot: the root and the whole path. */
export function splitPivot(source: string): ParentsSource {
  const i = source.indexOf('/./');
  const [base, pattern] = i < 0 ? ['/', source] : [source.slice(0, i), source.slice(i + 3)];
  return { base: goClean('/' + base).slice(1) || '.', pattern: goClean('/' + pattern).slice(1) };
}

function typeOf(st: Stats): ContextEntryType {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

async function entryOf(root: string, rel: string, st: Stats): Promise<ContextEntry> {
  const type = typeOf(st);
  return type === 'symlink' ? { relPath: rel, type, stat: st, linkTarget: await readlinkName(join(root, rel)) } : { relPath: rel, type, stat: st };
}

/** True when .dockerignore leaves `rel` (or, for a directory, something below it) in the context. */
function kept(ignore: ContextMatcher, rel: string, isDir: boolean): boolean {
  return !ignore.isExcluded(rel) || (isDir && ignore.mayReincludeUnder(rel));
}

/**
 * Returns what one COPY --parents source selects below `root` (the context, .dockerignore applied, or a stage's
 * filesystem with ContextMatcher.none): one SelectedSource per directory `base` matches, of type `dir`, whose
 * `entries` are the included paths and the directories above them up to `base` (context-relative, walk order;
 * the base's own entry is left out: its contents are copied, not itself). A base that is a file selects itself.
 * A base wildcard matching nothing selects nothing; a pattern matching nothing selects an empty base (the
 * destination is still created, as BuildKit's copy of the base does). Throws MissingSourceError when a path
 * without wildcards does not exist, naming it as BuildKit does (`"/base/pattern": not found`).
 */
export async function selectParents(root: string, source: string, ignore: ContextMatcher, o: Abortable = {}): Promise<SelectedSource[]> {
  const { base, pattern } = splitPivot(source);
  const literal = !hasWildcards(base) && !hasWildcards(pattern);
  const missing = (): MissingSourceError => {
    const path = '/' + [base, pattern].filter((p) => p !== '.' && p !== '').join('/');
    return new MissingSourceError(`COPY source ${JSON.stringify(path)}: not found`, path, { hint: 'check the path; with --parents only a source without wildcards must exist' });
  };
  const bases = hasWildcards(base) ? await expandWildcard(root, base, ignore) : [base];
  const out: SelectedSource[] = [];
  for (const relPath of bases) {
    const resolvedPath = await resolveInContext(root, relPath);
    const st = await tryLstat(join(root, resolvedPath));
    if (!st || (resolvedPath !== '.' && !kept(ignore, resolvedPath, st.isDirectory()))) throw missing();
    if (!st.isDirectory()) {
      out.push({ source, relPath, resolvedPath, type: typeOf(st), entries: [await entryOf(root, resolvedPath, st)] });
      continue;
    }
    const entries = await includedBelow(root, resolvedPath, pattern, ignore, o);
    if (literal && entries.length === 0) throw missing();
    out.push({ source, relPath, resolvedPath, type: 'dir', entries });
  }
  return out;
}

/** selectParents for each of `patterns` (COPY --parents sources), as one selection (selectSources' shape). */
export async function selectParentsSources(root: string, patterns: readonly string[], ignore: ContextMatcher, o: Abortable = {}): Promise<SourceSelection> {
  const sources: SelectedSource[] = [];
  for (const p of patterns) sources.push(...(await selectParents(root, p, ignore, o)));
  const paths = [...new Set(sources.flatMap((s) => s.entries.map((e) => e.relPath)))].sort(compareNames);
  return { sources, paths };
}

/**
 * The entries below the directory `dir` that `pattern` (relative to `dir`) includes, with every directory between
 * `dir` and them. The pattern's leading components without wildcards are looked up directly (never following a
 * symlink, as fsutil's walk does not), so only the part of the tree that can match is walked.
 */
async function includedBelow(root: string, dir: string, pattern: string, ignore: ContextMatcher, o: Abortable): Promise<ContextEntry[]> {
  const comps = pattern === '' ? [] : pattern.split('/');
  const above: ContextEntry[] = [];
  let cur = dir;
  let i = 0;
  for (; i < comps.length && !hasWildcards(comps[i]!); i++) {
    const rel = cur === '.' ? comps[i]!.replace(/\\(.)/g, '$1') : `${cur}/${comps[i]!.replace(/\\(.)/g, '$1')}`;
    const st = await tryLstat(join(root, rel));
    if (!st || !kept(ignore, rel, st.isDirectory())) return [];
    if (i === comps.length - 1) {
      // The whole pattern is a path: it and, for a directory, everything below it.
      const own = await entryOf(root, rel, st);
      const below: ContextEntry[] = [];
      if (st.isDirectory()) for (const e of listContext(root, ignore, { under: rel, ...(o.signal ? { signal: o.signal } : {}) })) below.push(e);
      // An excluded directory kept for a re-included path counts only with something below it.
      return ignore.isExcluded(rel) && below.length === 0 ? [] : [...above, own, ...below];
    }
    if (!st.isDirectory()) return [];
    above.push(await entryOf(root, rel, st));
    cur = rel;
  }
  const include = comps.length === 0 ? undefined : new ContextMatcher([pattern]);
  const prefix = dir === '.' ? '' : `${dir}/`;
  const mayHold = include ? mayHoldMatches(comps, include) : undefined;
  const dirs = new Map<string, ContextEntry>();
  const picked = new Set<string>();
  const out: ContextEntry[] = [];
  const descend = mayHold ? (d: string): boolean => mayHold(d.slice(prefix.length)) : undefined;
  for (const e of listContext(root, ignore, { under: cur, descend, ...(o.signal ? { signal: o.signal } : {}) })) {
    if (e.type === 'dir') dirs.set(e.relPath, e);
    if (include && !include.isExcluded(e.relPath.slice(prefix.length))) continue;
    // The directories between the walk's start and this entry, each once, before it.
    const missingParents: ContextEntry[] = [];
    for (let p = parentOf(e.relPath); p !== cur && p !== '.' && !picked.has(p); p = parentOf(p)) {
      const d = dirs.get(p);
      if (d) missingParents.unshift(d);
    }
    for (const d of missingParents) {
      picked.add(d.relPath);
      out.push(d);
    }
    picked.add(e.relPath);
    out.push(e);
  }
  return out.length === 0 ? [] : [...above, ...out];
}

/**
 * Returns whether a directory (relative to the base) can hold something the pattern `comps` includes: it is
 * included itself, or each of its components matches the pattern's component at that depth. Conservative: a
 * component with `**` or a class (`[…]`, whose syntax patternmatcher and filepath.Match spell differently) may
 * hold anything. So the walk skips only trees that cannot match, such as a package's node_modules when the
 * pattern names package manifests.
 */
function mayHoldMatches(comps: readonly string[], include: ContextMatcher): (dirRel: string) => boolean {
  const res = comps.map((c) => (c.includes('**') || c.includes('[') ? undefined : compileGoMatch(c)));
  return (dirRel) => {
    if (include.isExcluded(dirRel)) return true;
    const parts = dirRel.split('/');
    for (let i = 0; i < parts.length; i++) {
      if (i >= comps.length) return false;
      const re = res[i];
      if (re === undefined) return true;
      if (!re.test(parts[i]!)) return false;
    }
    return true;
  };
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}
