/**
 * The path checks of import, load and save, run before any byte is read or written: a missing file, a
 * directory where a file belongs, or a missing target directory is one error naming the path and the fix,
 * instead of a raw ENOENT/EISDIR about an internal temp file after the work began.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TsbuildError, type TsbuildErrorOptions } from '../core/index.js';

/** A file an archive command reads or writes cannot be used; `location` is the path as the caller wrote it. */
export class ArchivePathError extends TsbuildError {
  constructor(readonly path: string, what: string, hint: string, o: TsbuildErrorOptions = {}) {
    super('IO', what, { hint, location: { ref: path }, ...o });
    this.name = 'ArchivePathError';
  }
}

/** What an input file is read as, for the messages. */
export interface InputKind {
  /** `rootfs tar` (import), `archive` (load) */
  readonly noun: string;
  /** `import`, `load` */
  readonly verb: string;
  /** Says what the file should be and where it comes from. */
  readonly expect: string;
}

/** Throws ArchivePathError unless `file` is a readable regular file (or a pipe/device, e.g. /dev/stdin). */
export async function checkInputFile(file: string, kind: InputKind): Promise<void> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ArchivePathError(file, `${kind.noun} not found`, `check the path; ${kind.expect}`, { cause: e });
    throw new ArchivePathError(file, `cannot read ${kind.noun}: ${code ?? String(e)}`, `check the file's permissions; ${kind.expect}`, { cause: e });
  }
  if (st.isDirectory()) {
    const dir = file.replace(/\/+$/, '') || '/';
    throw new ArchivePathError(file, `${kind.noun} is a directory`, `${kind.verb} takes a tar file; to ${kind.verb} this directory, tar it first: tar -C ${dir} -cf ${dir === '/' ? '/tmp/root' : dir}.tar .`);
  }
}

/**
 * Throws ArchivePathError unless `file` can be written as a new archive: its directory exists and `file` is not
 * a directory. Returns the absolute path.
 */
export async function checkOutputFile(file: string): Promise<string> {
  const abs = resolve(file);
  const dir = dirname(abs);
  const dst = await stat(dir).catch(() => undefined);
  if (!dst) throw new ArchivePathError(file, `cannot write archive: directory ${dir} does not exist`, `create it first (mkdir -p ${dir}), or write the archive into an existing directory`);
  if (!dst.isDirectory()) throw new ArchivePathError(file, `cannot write archive: ${dir} is not a directory`, 'write the archive into an existing directory');
  const st = await stat(abs).catch(() => undefined);
  if (st?.isDirectory()) throw new ArchivePathError(file, 'cannot write archive: the path is a directory', `name a file, e.g. ${abs.replace(/\/+$/, '')}/image.tar`);
  return abs;
}
