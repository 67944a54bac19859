/**
 * readdir and readlink that return names (core/file-names.ts) instead of Node's lossy strings: Node decodes a
 * non-UTF-8 name to U+FFFD, which names no file. The common case costs one scan for U+FFFD; only a directory
 * holding such a name (or a real U+FFFD) is read a second time as bytes.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { decodeName, fsPath } from '../core/index.js';

const lossy = (s: string): boolean => s.includes('\uFFFD');

/** Returns the names in the directory `dir` (unsorted), each exactly its bytes. */
export function readdirNamesSync(dir: string): string[] {
  const p = fsPath(dir);
  const names = readdirSync(p);
  return names.some(lossy) ? readdirSync(p, { encoding: 'buffer' }).map(decodeName) : names;
}

/** Returns the names in the directory `dir` (unsorted), each exactly its bytes. */
export async function readdirNames(dir: string): Promise<string[]> {
  const p = fsPath(dir);
  const names = await readdir(p);
  return names.some(lossy) ? (await readdir(p, { encoding: 'buffer' })).map(decodeName) : names;
}

/** Returns the target of the symlink `path`, exactly its bytes. */
export function readlinkNameSync(path: string): string {
  const p = fsPath(path);
  const t = readlinkSync(p);
  return lossy(t) ? decodeName(readlinkSync(p, { encoding: 'buffer' })) : t;
}

/** Returns the target of the symlink `path`, exactly its bytes. */
export async function readlinkName(path: string): Promise<string> {
  const p = fsPath(path);
  const t = await readlink(p);
  return lossy(t) ? decodeName(await readlink(p, { encoding: 'buffer' })) : t;
}

/** Returns the entries of the directory `dir` (unsorted): each name exactly its bytes, and whether it is a directory. */
export async function readdirEntries(dir: string): Promise<{ readonly name: string; readonly isDir: boolean }[]> {
  const p = fsPath(dir);
  const ents = await readdir(p, { withFileTypes: true });
  if (!ents.some((e) => lossy(e.name))) return ents.map((e) => ({ name: e.name, isDir: e.isDirectory() }));
  const raw = (await readdir(p, { withFileTypes: true, encoding: 'buffer' as BufferEncoding })) as unknown as { name: Buffer; isDirectory(): boolean }[];
  return raw.map((e) => ({ name: decodeName(e.name), isDir: e.isDirectory() }));
}
