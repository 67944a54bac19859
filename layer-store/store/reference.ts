import { isDigest, type Digest } from '../core/index.js';
import { InvalidReferenceError } from './errors.js';

/**
 * Docker-style image names, normalised the way `docker` does (`busybox` → `docker.io/library/busybox:latest`).
 * registry-client owns the full reference grammar; layer-store may not import it, so this is the small
 * subset the store needs to key its tags.
 */
export interface ImageName {
  /** `docker.io/library/busybox` */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

/** Returns the parsed, normalised name; a missing tag stays missing (see withDefaultTag). */
export function parseImageName(s: string): ImageName {
  if (!s || s.length > 255 * 2) throw new InvalidReferenceError(s, 'empty or too long');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw new InvalidReferenceError(s, 'the part after @ is not a sha256 digest');
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(s, `invalid tag ${JSON.stringify(tag)}`);
  }
  const parts = rest.split('/');
  let domain = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    parts.shift();
    if (!DOMAIN.test(domain)) throw new InvalidReferenceError(s, `invalid registry host ${JSON.stringify(domain)}`);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!COMPONENT.test(p)) throw new InvalidReferenceError(s, `invalid repository component ${JSON.stringify(p)} (lowercase letters, digits, separators . _ __ -)`);
  }
  const repository = `${domain}/${parts.join('/')}`;
  if (repository.length > 255) throw new InvalidReferenceError(s, 'repository name longer than 255 characters');
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Returns `repository:tag` for a tag name, adding `:latest` when no tag and no digest was written. */
export function normalizeTagName(s: string): string {
  const n = parseImageName(s);
  if (n.digest !== undefined) throw new InvalidReferenceError(s, 'a tag name cannot carry a digest');
  return `${n.repository}:${n.tag ?? 'latest'}`;
}

/** Returns the short form docker prints (`docker.io/library/busybox` → `busybox`). */
export function familiarRepository(repository: string): string {
  if (repository.startsWith('docker.io/library/') && repository.split('/').length === 3) return repository.slice('docker.io/library/'.length);
  if (repository.startsWith('docker.io/')) return repository.slice('docker.io/'.length);
  return repository;
}

/** Splits a normalised `repository:tag` into its parts. */
export function splitTagName(name: string): { repository: string; tag: string } {
  const colon = name.lastIndexOf(':');
  if (colon <= name.lastIndexOf('/')) return { repository: name, tag: 'latest' };
  return { repository: name.slice(0, colon), tag: name.slice(colon + 1) };
}

/** Returns the familiar `name:tag` form (`busybox:latest`). */
export function familiarTagName(name: string): string {
  const { repository, tag } = splitTagName(name);
  return `${familiarRepository(repository)}:${tag}`;
}
