/**
 * Named contexts (`--build-context NAME=SOURCE`, BuildKit's `context:NAME` frontend options) as the stage graph
 * sees them. A name is matched as BuildKit matches it (dockerui NamedContext): the reference in its familiar
 * form without `:latest`, so `busybox`, `busybox:latest` and `docker.io/library/busybox` are one name. A match
 * replaces a stage of that name (its instructions are not run), and stands in for an image in FROM,
 * `COPY --from` and `RUN --mount from=`.
 */
import type { CopyInstruction, InstructionLocation } from '../instructions/index.js';

/** What a named context stands for once its source is resolved (builder/pipeline/named-contexts.ts). */
export type NamedContextUse =
  /** An image in the store (docker-image://, or an oci-layout image imported for this build); `scratch`: empty. */
  | { readonly kind: 'image'; readonly ref: string }
  /** Another stage of this Dockerfile (`target:STAGE`). */
  | { readonly kind: 'stage'; readonly name: string }
  /** A directory (a local one, or a git checkout or tarball fetched for this build), with its .dockerignore. */
  | { readonly kind: 'dir'; readonly path: string };

const DOMAIN = /^(localhost|[^/]*[.:][^/]*)$/;

/**
 * Returns the key a reference is matched by (`docker.io/library/alpine:latest` → `alpine`,
 * `localhost:5000/app:1` stays), or undefined when `ref` is no valid reference (it then matches nothing).
 */
export function contextKey(ref: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9._:/@+-]*$/.test(ref) || ref.includes('//')) return undefined;
  const at = ref.indexOf('@');
  let name = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at) : '';
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  let tag = '';
  if (colon > slash) { tag = name.slice(colon); name = name.slice(0, colon); }
  const parts = name.split('/');
  if (parts.length > 1 && DOMAIN.test(parts[0]!) && (parts[0] === 'docker.io' || parts[0] === 'index.docker.io')) parts.shift();
  if (parts.length === 2 && parts[0] === 'library' && !DOMAIN.test(parts[0])) parts.shift();
  const familiar = `${parts.join('/')}${tag}${digest}`;
  return digest === '' && tag === ':latest' ? familiar.slice(0, -':latest'.length) : familiar;
}

/** The named context `ref` refers to, if any. */
export function namedContextFor(contexts: ReadonlyMap<string, NamedContextUse> | undefined, ref: string): NamedContextUse | undefined {
  if (!contexts || contexts.size === 0) return undefined;
  const k = contextKey(ref);
  return k === undefined ? undefined : contexts.get(k);
}

/**
 * The instruction that fills a stage from a directory context: `COPY --from=NAME / /` (the directory's files,
 * filtered by its .dockerignore, become the stage's first layer), as BuildKit's local source state would.
 */
export function copyFromContext(name: string, location: InstructionLocation): CopyInstruction {
  return {
    kind: 'copy', from: name, sources: ['/'], sourceContents: [], dest: '/', link: false, exclude: [], parents: false,
    location, original: `COPY --from=${name} / /`,
  };
}
