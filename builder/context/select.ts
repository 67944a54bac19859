import { join } from 'node:path';
import { lstatSync, type Stats } from 'node:fs';
import { fsPath, readdirNames, readlinkName, showName, type Abortable } from '../../layer-store/index.js';
import { goClean, type ContextMatcher } from './dockerignore.js';
import { ContextError, MissingSourceError } from './errors.js';
import { compareNames, listContext, type ContextEntry, type ContextEntryType } from './walk.js';
import { compileGoMatch, hasWildcards } from './gomatch.js';

/** One path a COPY/ADD source selects. */
export interface SelectedSource {
  /** The source as written in the instruction (after variable expansion). */
  readonly source: string;
  /** Context-relative path that matched ('.' for the context root). */
  readonly relPath: string;
  /** Where it leads once a symlinked source is followed inside the context (Docker follows the named source itself); equals relPath otherwise. */
  readonly resolvedPath: string;
  /** Type of resolvedPath. A 'dir' source means its contents. */
  readonly type: ContextEntryType;
  /** resolvedPath's own entry (absent for the root) and, for a dir, everything beneath it that .dockerignore keeps, in walk order. */
  readonly entries: readonly ContextEntry[];
}

/** What a COPY/ADD source list selects from the context. */
export interface SourceSelection {
  readonly sources: readonly SelectedSource[];
  /** Every context-relative path in any source's entries, sorted and unique: the input of cache.hashSources. */
  readonly paths: readonly string[];
}

const MAX_LINKS = 255;

export async function tryLstat(abs: string): Promise<Stats | undefined> {
  try {
    // Synchronous: a few calls per COPY source (an async one is a thread-pool round trip).
    return lstatSync(fsPath(abs));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ContextError(`cannot stat ${showName(abs)}`, { hint: 'check permissions in the build context', cause: e });
  }
}

/** Resolves symlinks in `rel` as if the context root were `/` (never leaving it); returns the final context-relative path. */
export async function resolveInContext(root: string, rel: string): Promise<string> {
  let todo = rel === '.' ? [] : rel.split('/');
  const done: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const cur = [...done, part].join('/');
    const st = await tryLstat(join(root, cur));
    if (st?.isSymbolicLink()) {
      if (++hops > MAX_LINKS) throw new ContextError(`too many symlinks resolving ${showName(rel)}`, { hint: 'fix the symlink loop in the build context' });
      const target = await readlinkName(join(root, cur));
      if (target.startsWith('/')) done.length = 0;
      todo = [...target.split('/'), ...todo];
      continue;
    }
    done.push(part);
  }
  return done.length === 0 ? '.' : done.join('/');
}

/** Returns the context paths matching a wildcard source, component by component (Go filepath.Match per component). */
export async function expandWildcard(root: string, cleaned: string, matcher: ContextMatcher): Promise<string[]> {
  let cur: string[] = ['.'];
  for (const comp of cleaned.split('/')) {
    const next: string[] = [];
    if (!hasWildcards(comp)) {
      const unescaped = comp.replace(/\\(.)/g, '$1');
      for (const d of cur) next.push(d === '.' ? unescaped : `${d}/${unescaped}`);
    } else {
      const re = compileGoMatch(comp);
      for (const d of cur) {
        const st = await tryLstat(join(root, d));
        if (!st?.isDirectory()) continue;
        const names = (await readdirNames(join(root, d))).sort(compareNames);
        for (const name of names) {
          if (!re.test(name)) continue;
          const rel = d === '.' ? name : `${d}/${name}`;
          if (!matcher.isExcluded(rel)) next.push(rel);
          else if ((await tryLstat(join(root, rel)))?.isDirectory() && matcher.mayReincludeUnder(rel)) next.push(rel);
        }
      }
    }
    cur = next;
  }
  const out: string[] = [];
  for (const p of cur) {
    const st = await tryLstat(join(root, p));
    if (st !== undefined && (!matcher.isExcluded(p) || (st.isDirectory() && matcher.mayReincludeUnder(p)))) out.push(p);
  }
  return out.sort(compareNames);
}

/**
 * Returns what a COPY/ADD source list selects from the context, with .dockerignore applied.
 * Sources are context-relative (a leading `/` or `..` cannot leave the context, as in Docker);
 * wildcards follow Go filepath.Match (`*`, `?`, `[...]`) and a wildcard matching nothing selects
 * nothing (BuildKit allows empty wildcards); a directory source means its contents; a symlink named
 * as a source is followed inside the context. Throws ContextError when a literal source does not
 * exist or is excluded by .dockerignore.
 */
export async function selectSources(
  contextDir: string,
  patterns: readonly string[],
  matcher: ContextMatcher,
  o: Abortable = {},
): Promise<SourceSelection> {
  const sources: SelectedSource[] = [];
  for (const source of patterns) {
    const cleaned = goClean('/' + source).slice(1) || '.';
    const matches = hasWildcards(cleaned) ? await expandWildcard(contextDir, cleaned, matcher) : [cleaned];
    for (const relPath of matches) {
      const resolvedPath = await resolveInContext(contextDir, relPath);
      const st = resolvedPath === '.' ? lstatSync(contextDir) : await tryLstat(join(contextDir, resolvedPath));
      if (st === undefined) {
        throw new MissingSourceError(`COPY source ${JSON.stringify(source)} not found in the build context`, '/' + (relPath === '.' ? '' : relPath), {
          hint: `paths are relative to the context directory ${contextDir}; check the spelling, or pass the right context`,
        });
      }
      const isDir = st.isDirectory();
      if (resolvedPath !== '.' && matcher.isExcluded(resolvedPath) && !(isDir && matcher.mayReincludeUnder(resolvedPath))) {
        const pat = matcher.excludingPattern(resolvedPath);
        throw new ContextError(`COPY source ${JSON.stringify(source)} is excluded by .dockerignore${pat ? ` (pattern ${JSON.stringify(pat)})` : ''}`, {
          hint: 'remove or narrow that .dockerignore pattern (or add a !exception), or change the COPY source',
        });
      }
      const entries: ContextEntry[] = [];
      if (resolvedPath !== '.') {
        const type: ContextEntryType = st.isFile() ? 'file' : isDir ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
        entries.push(type === 'symlink' ? { relPath: resolvedPath, type, stat: st, linkTarget: await readlinkName(join(contextDir, resolvedPath)) } : { relPath: resolvedPath, type, stat: st });
      }
      if (isDir) for (const e of listContext(contextDir, matcher, { under: resolvedPath, ...(o.signal ? { signal: o.signal } : {}) })) entries.push(e);
      const type: ContextEntryType = isDir ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      sources.push({ source, relPath, resolvedPath, type, entries });
    }
  }
  return { sources, paths: sortedPaths(sources) };
}

/**
 * Every path of the sources' entries, unique, in name order. One source's entries are unique and in walk order,
 * which is name order unless a name sorts before '/' (`a.b` before `a/x`): then they are sorted.
 */
export function sortedPaths(sources: readonly { readonly entries: readonly ContextEntry[] }[]): string[] {
  const all = sources.length === 1 ? sources[0]!.entries.map((e) => e.relPath) : [...new Set(sources.flatMap((s) => s.entries.map((e) => e.relPath)))];
  for (let i = 1; i < all.length; i++) if (compareNames(all[i - 1]!, all[i]!) >= 0) return all.sort(compareNames);
  return all;
}

