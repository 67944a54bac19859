/**
 * Cache specs, the `--cache-from` / `--cache-to` values in buildx syntax: `type=registry,ref=REF[,mode=min|max]`,
 * `type=local,src=DIR` / `type=local,dest=DIR[,mode=…]`, `--cache-to type=inline` (records in the image's config;
 * read back with `--cache-from type=registry,ref=IMAGE`); a bare value means `type=registry,ref=VALUE`.
 */
import { TsbuildError } from '../../layer-store/index.js';

/** Where a build's cache is imported from (`--cache-from`) or exported to (`--cache-to`). */
export type CacheSpec =
  | { readonly type: 'registry'; readonly ref: string; readonly mode: 'min' | 'max' }
  | { readonly type: 'local'; readonly dir: string; readonly mode: 'min' | 'max' }
  | { readonly type: 'inline'; readonly mode: 'min' };

/** Parses one `--cache-from` (`dir` from `src=`) or `--cache-to` (`dir` from `dest=`) value. */
export function parseCacheSpec(spec: string, direction: 'from' | 'to'): CacheSpec {
  const flag = `--cache-${direction}`;
  if (!spec.includes('=')) return { type: 'registry', ref: spec, mode: 'min' };
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) throw new TsbuildError('USAGE', `invalid ${flag} ${JSON.stringify(spec)}`, { hint: `write ${flag} type=registry,ref=REPO:TAG or type=local,${direction === 'from' ? 'src' : 'dest'}=DIR` });
    kv.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  const mode = kv.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new TsbuildError('USAGE', `invalid ${flag} mode ${JSON.stringify(mode)}`, { hint: 'use mode=min or mode=max' });
  const type = kv.get('type') ?? 'registry';
  if (type === 'registry') {
    const ref = kv.get('ref');
    if (!ref) throw new TsbuildError('USAGE', `${flag} type=registry needs ref=`, { hint: `write ${flag} type=registry,ref=REPO:TAG` });
    return { type, ref, mode };
  }
  if (type === 'local') {
    const dir = kv.get(direction === 'from' ? 'src' : 'dest');
    if (!dir) throw new TsbuildError('USAGE', `${flag} type=local needs ${direction === 'from' ? 'src' : 'dest'}=DIR`, { hint: `write ${flag} type=local,${direction === 'from' ? 'src' : 'dest'}=DIR` });
    return { type, dir, mode };
  }
  if (type === 'inline') {
    if (direction === 'from') throw new TsbuildError('USAGE', '--cache-from type=inline is not a cache source', { hint: 'read an inline cache with --cache-from type=registry,ref=IMAGE (the image built with --cache-to type=inline)' });
    if (kv.has('mode') && mode !== 'min') throw new TsbuildError('USAGE', '--cache-to type=inline supports mode=min only', { hint: 'use type=registry,ref=REPO:TAG,mode=max to export every stage and the cache mounts' });
    return { type: 'inline', mode: 'min' };
  }
  throw new TsbuildError('USAGE', `${flag} type=${type} is not supported`, { hint: 'use type=registry, type=local or (--cache-to) type=inline' });
}
