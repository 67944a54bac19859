import { parseDigest, type Digest } from '../layer-store/core/index.js';
import { InvalidReferenceError, REGISTRY_REFERENCE_HINT } from './errors.js';
import type { TsbuildErrorOptions } from '../layer-store/core/index.js';

/** Returns the InvalidReferenceError for a registry reference, with the hint that shows its grammar. */
function badReference(s: string, why: string, o: TsbuildErrorOptions = {}): InvalidReferenceError {
  return new InvalidReferenceError(s, why, { hint: REGISTRY_REFERENCE_HINT, ...o });
}

/** A normalised image reference: `registry/repository[:tag][@digest]`. */
export interface Reference {
  /** Registry host as written by users (`docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`). */
  readonly registry: string;
  /** Repository path (`library/alpine`). */
  readonly repository: string;
  /** Tag, when given (or `latest` when neither tag nor digest was given). */
  readonly tag?: string;
  readonly digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
/** The API host behind `docker.io` references. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]+)?$/;
const NAME_MAX = 255;

/**
 * Returns the normalised reference for `s`, following Docker's grammar: a first component with `.` or `:`,
 * `localhost`, or an uppercase letter is a registry host, else the registry is docker.io; one-component
 * Docker Hub names get `library/`; with neither tag nor digest the tag is `latest`.
 * Throws InvalidReferenceError.
 */
export function parseReference(s: string): Reference {
  if (typeof s !== 'string' || s.length === 0) throw badReference(String(s), 'empty reference');
  if (s !== s.trim()) throw badReference(s, 'leading or trailing whitespace');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      digest = parseDigest(d);
    } catch (e) {
      throw badReference(s, `invalid digest ${JSON.stringify(d)} (only sha256 is supported)`, { cause: e });
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw badReference(s, `invalid tag ${JSON.stringify(tag)}`);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN.test(registry)) throw badReference(s, `invalid registry host ${JSON.stringify(registry)}`);
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (path.length === 0) throw badReference(s, 'missing repository name');
  if (path.toLowerCase() !== path) throw badReference(s, 'repository name must be lowercase');
  for (const c of path.split('/')) {
    if (!COMPONENT.test(c)) throw badReference(s, `invalid name component ${JSON.stringify(c)}`);
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (registry.length + 1 + path.length > NAME_MAX) throw badReference(s, `name longer than ${NAME_MAX} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Returns the canonical string form `registry/repository[:tag][@digest]`. */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? ':' + r.tag : ''}${r.digest !== undefined ? '@' + r.digest : ''}`;
}

/** Returns the host[:port] to talk to for `registry` (docker.io → registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Returns `r` with the tag/digest replaced. */
export function withDigest(r: Reference, digest: Digest): Reference {
  return { registry: r.registry, repository: r.repository, digest };
}

/** Returns the host part of `registry` without the port (IPv6 brackets removed). */
export function hostOnly(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const i = registry.lastIndexOf(':');
  return i >= 0 ? registry.slice(0, i) : registry;
}

/** True for registries that use plain HTTP by default: localhost, 127.0.0.0/8 and ::1. */
export function isLoopbackRegistry(registry: string): boolean {
  const h = hostOnly(registry).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
