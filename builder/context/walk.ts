import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted, type Abortable } from '../../layer-store/core/index.js';
import type { ContextMatcher } from './dockerignore.js';
import { ContextError } from './errors.js';

export type ContextEntryType = 'file' | 'dir' | 'symlink' | 'other';

/** One path of the build context as lstat sees it (symlinks are never followed). */
export interface ContextEntry {
  /** '/'-separated path relative to the context root. */
  readonly relPath: string;
  readonly type: ContextEntryType;
  readonly stat: Stats;
  /** The link's target as stored, for symlinks. */
  readonly linkTarget?: string;
}

export interface WalkOptions extends Abortable {
  /** Walk only beneath this context-relative directory (its own entry is not reported). Default: the whole context. */
  readonly under?: string;
}

/** Orders names as Go's filepath.Walk does: by their UTF-8 bytes. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function typeOf(st: Stats): ContextEntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

const LSTAT_BATCH = 128;

async function entriesOf(abs: string, rel: string): Promise<ContextEntry[]> {
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (e) {
    throw new ContextError(`cannot read context directory ${rel || '.'}`, { hint: 'check permissions, or exclude it in .dockerignore', cause: e });
  }
  names.sort(compareNames);
  const out: ContextEntry[] = new Array<ContextEntry>(names.length);
  for (let i = 0; i < names.length; i += LSTAT_BATCH) {
    await Promise.all(
      names.slice(i, i + LSTAT_BATCH).map(async (name, j) => {
        const r = rel === '' ? name : `${rel}/${name}`;
        const p = join(abs, name);
        let st: Stats;
        try {
          st = await lstat(p);
        } catch (e) {
          throw new ContextError(`cannot stat ${r} in the build context`, { hint: 'the file may have been removed during the build', cause: e });
        }
        const type = typeOf(st);
        out[i + j] = type === 'symlink' ? { relPath: r, type, stat: st, linkTarget: await readlink(p) } : { relPath: r, type, stat: st };
      }),
    );
  }
  return out;
}

/**
 * Yields every path of the context that .dockerignore does not exclude, depth first, each directory's
 * children sorted by name (Go filepath.Walk order), a directory before its contents. Symlinks are
 * reported as symlinks and never followed. An excluded directory is still entered when a `!` exception
 * could re-include something beneath it; the excluded directories above a re-included path are then
 * reported just before it (as Docker sends them), so the tree stays complete.
 */
export async function* walkContext(contextDir: string, matcher: ContextMatcher, o: WalkOptions = {}): AsyncGenerator<ContextEntry> {
  const start = o.under === undefined || o.under === '.' ? '' : o.under;
  const pending: ContextEntry[] = [];
  let emitted = 0; // how many of `pending` (from the bottom) are already reported
  async function* visit(rel: string): AsyncGenerator<ContextEntry> {
    throwIfAborted(o.signal);
    for (const e of await entriesOf(rel === '' ? contextDir : join(contextDir, rel), rel)) {
      if (!matcher.isExcluded(e.relPath)) {
        for (; emitted < pending.length; emitted++) yield pending[emitted]!;
        yield e;
        if (e.type === 'dir') {
          const saved = { pending: pending.length, emitted };
          yield* visit(e.relPath);
          pending.length = saved.pending;
          emitted = saved.emitted;
        }
      } else if (e.type === 'dir' && matcher.mayReincludeUnder(e.relPath)) {
        pending.push(e);
        const depth = pending.length;
        yield* visit(e.relPath);
        pending.length = depth - 1;
        if (emitted > pending.length) emitted = pending.length;
      }
    }
  }
  yield* visit(start);
}
