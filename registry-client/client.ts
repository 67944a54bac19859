import {
  TsbuildError, noopEvents, noopLogger, parseDigest,
  type Abortable, type Descriptor, type Digest, type EventSink, type Logger,
} from '../layer-store/core/index.js';
import { RegistryError } from './errors.js';
import { anonymousKeychain, type Keychain } from './keychain.js';
import { formatReference, parseReference, type Reference } from './reference.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { RegistryDestination } from './destination.js';
import { MANIFEST_ACCEPT, RegistrySource, repoUrl } from './source.js';
import { headerValue, readLimitedText } from './response.js';
import { Transport } from './transport.js';
import { proxyConfigFromEnv } from './proxy.js';

export interface RegistryClientOptions {
  /** Where credentials come from (default: anonymous; the CLI passes dockerKeychain()). */
  readonly keychain?: Keychain;
  /** Registries (`host[:port]`) spoken to over plain HTTP; loopback registries always are. */
  readonly insecure?: readonly string[];
  /** A PEM bundle of extra CA certificates for HTTPS. */
  readonly caFile?: string;
  readonly retry?: RetryPolicy;
  /** Blob uploads running at once per client (default 4). Downloads are limited by their caller. */
  readonly concurrency?: number;
  /** Upload chunk size in bytes (default 16 MiB); blobs up to this size go up in one PUT. */
  readonly chunkSize?: number;
  /** Per-request header and body idle timeout in milliseconds (default 60 s). */
  readonly timeoutMs?: number;
  /** Where HTTP_PROXY, HTTPS_PROXY and NO_PROXY are read from (default `process.env`; proxy.ts has the rules). */
  readonly proxyEnv?: NodeJS.ProcessEnv;
  readonly events?: EventSink;
  readonly logger?: Logger;
}

/** Default upload chunk size: large enough that per-request overhead is small, small enough to resend. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** Default parallel uploads: registries and CDNs handle a few streams per client well. */
export const DEFAULT_UPLOAD_CONCURRENCY = 4;

/** A client for the OCI distribution API (pull, push, tags, delete) over one keep-alive connection pool. */
export class RegistryClient {
  readonly transport: Transport;
  readonly #chunkSize: number;
  readonly #limit: <T>(fn: () => Promise<T>) => Promise<T>;

  constructor(o: RegistryClientOptions = {}) {
    this.transport = new Transport({
      keychain: o.keychain ?? anonymousKeychain,
      insecure: o.insecure ?? [],
      caFile: o.caFile,
      retry: o.retry ?? DEFAULT_RETRY_POLICY,
      timeoutMs: o.timeoutMs ?? 60_000,
      connections: undefined,
      proxy: proxyConfigFromEnv(o.proxyEnv ?? process.env),
      events: o.events ?? noopEvents,
      logger: o.logger ?? noopLogger,
    });
    this.#chunkSize = Math.max(64 * 1024, o.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.#limit = limiter(Math.max(1, o.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY));
  }

  /** Returns an ImageSource reading `ref` (manifests and blobs verified). */
  source(ref: Reference | string): RegistrySource {
    return new RegistrySource(this.transport, toRef(ref));
  }

  /**
   * Returns an ImageDestination writing to `ref`'s repository (commit tags it). `mountFrom` names repositories of
   * the same registry whose blobs every putBlob first tries to mount (`tsbuild copy` within one registry).
   */
  destination(ref: Reference | string, o: { mountFrom?: readonly string[] } = {}): RegistryDestination {
    return new RegistryDestination(this.transport, toRef(ref), this.#chunkSize, this.#limit, o.mountFrom ?? []);
  }

  /**
   * Yields the repository's tags page by page (`n` per page when given), following the `Link` header
   * (`<…?last=…&n=…>; rel="next"`). Order is the registry's; listTags sorts.
   */
  async *tags(ref: Reference | string, o: Abortable & { pageSize?: number } = {}): AsyncGenerator<string> {
    const r = toRef(ref);
    let url: URL | undefined = repoUrl(this.transport, r, 'tags/list');
    if (o.pageSize) url.searchParams.set('n', String(o.pageSize));
    const seen = new Set<string>();
    for (let pages = 0; url && pages < 10_000; pages++) {
      const res = await this.transport.request({
        method: 'GET', url, registry: r.registry, scopes: [`repository:${r.repository}:pull`], expect: [200],
        what: 'list tags', ref: `${r.registry}/${r.repository}`, signal: o.signal,
      });
      const text = await readLimitedText(res, 16 * 1024 * 1024);
      let j: { tags?: string[] | null };
      try {
        j = JSON.parse(text) as typeof j;
      } catch (e) {
        throw new TsbuildError('REGISTRY', 'tag list is not JSON', { location: { ref: `${r.registry}/${r.repository}` }, cause: e, hint: 'the registry or a proxy is misbehaving' });
      }
      for (const t of j.tags ?? []) if (!seen.has(t)) { seen.add(t); yield t; }
      const next = nextLink(headerValue(res.headers, 'link'));
      url = next ? new URL(next, url) : undefined;
    }
  }

  /**
   * Yields the repositories of `registry` (GET /v2/_catalog), page by page (`n` per page when given), following the
   * `Link` header as tags() does. Order is the registry's (distribution: lexical).
   */
  async *catalog(registry: string, o: Abortable & { pageSize?: number } = {}): AsyncGenerator<string> {
    let url: URL | undefined = new URL('/v2/_catalog', this.transport.baseUrl(registry));
    if (o.pageSize) url.searchParams.set('n', String(o.pageSize));
    const seen = new Set<string>();
    for (let pages = 0; url && pages < 10_000; pages++) {
      const res = await this.transport.request({
        method: 'GET', url, registry, scopes: ['registry:catalog:*'], expect: [200], what: 'list repositories', ref: registry, signal: o.signal,
      });
      const text = await readLimitedText(res, 16 * 1024 * 1024);
      let j: { repositories?: string[] | null };
      try {
        j = JSON.parse(text) as typeof j;
      } catch (e) {
        throw new TsbuildError('REGISTRY', 'repository catalog is not JSON', { location: { ref: registry }, cause: e, hint: 'the registry or a proxy is misbehaving' });
      }
      for (const r of j.repositories ?? []) if (!seen.has(r)) { seen.add(r); yield r; }
      const next = nextLink(headerValue(res.headers, 'link'));
      url = next ? new URL(next, url) : undefined;
    }
  }

  /** Returns the descriptor (size, media type) of the blob `digest` in `ref`'s repository, via HEAD; undefined when absent. */
  async headBlob(ref: Reference | string, digest: Digest, o: Abortable = {}): Promise<Descriptor | undefined> {
    const r = toRef(ref);
    const res = await this.transport.request({
      method: 'HEAD', url: repoUrl(this.transport, r, `blobs/${digest}`), registry: r.registry,
      scopes: [`repository:${r.repository}:pull`], expect: [200, 404], what: 'check blob', ref: `${r.registry}/${r.repository}@${digest}`, signal: o.signal,
    });
    await res.body.dump().catch(() => undefined);
    if (res.status === 404) return undefined;
    return { mediaType: 'application/octet-stream', digest, size: Number(headerValue(res.headers, 'content-length') ?? 0) };
  }

  /** Returns every tag of the repository, sorted. */
  async listTags(ref: Reference | string, o: Abortable & { pageSize?: number } = {}): Promise<string[]> {
    const out: string[] = [];
    for await (const t of this.tags(ref, o)) out.push(t);
    return out.sort();
  }

  /** Returns the descriptor (digest, size, media type) of the manifest `ref` names, via HEAD; undefined when absent. */
  async headManifest(ref: Reference | string, o: Abortable = {}): Promise<Descriptor | undefined> {
    const r = toRef(ref);
    const res = await this.transport.request({
      method: 'HEAD', url: repoUrl(this.transport, r, `manifests/${r.digest ?? r.tag ?? 'latest'}`), registry: r.registry,
      scopes: [`repository:${r.repository}:pull`], headers: { accept: MANIFEST_ACCEPT }, expect: [200, 404],
      what: 'check manifest', ref: formatReference(r), signal: o.signal,
    });
    await res.body.dump().catch(() => undefined);
    if (res.status === 404) return undefined;
    const digest = headerValue(res.headers, 'docker-content-digest');
    return {
      mediaType: (headerValue(res.headers, 'content-type') ?? '').split(';')[0]!.trim(),
      digest: parseDigest(digest ?? r.digest ?? ''),
      size: Number(headerValue(res.headers, 'content-length') ?? 0),
    };
  }

  /**
   * Deletes the manifest `ref` names. By digest it removes the manifest and every tag pointing at it;
   * by tag it asks the registry to delete the tag alone, which many registries (distribution 2.8) refuse.
   */
  async deleteManifest(ref: Reference | string, o: Abortable = {}): Promise<void> {
    const r = toRef(ref);
    const target = r.digest ?? r.tag ?? 'latest';
    try {
      const res = await this.transport.request({
        method: 'DELETE', url: repoUrl(this.transport, r, `manifests/${target}`), registry: r.registry,
        scopes: [`repository:${r.repository}:delete`], expect: [202, 200, 204], what: 'delete manifest', ref: formatReference(r), signal: o.signal,
      });
      await res.body.dump().catch(() => undefined);
    } catch (e) {
      if (e instanceof RegistryError && !r.digest && (e.registryCode === 'DIGEST_INVALID' || e.registryCode === 'UNSUPPORTED' || e.status === 405)) {
        throw new RegistryError('registry does not support tag deletion', {
          status: e.status, code: e.registryCode, method: 'DELETE', url: e.url, retryable: false, ref: formatReference(r),
          hint: 'delete by digest (NAME@sha256:…), which removes the manifest and all its tags', cause: e,
        });
      }
      throw e;
    }
  }

  /**
   * Checks that the keychain's credentials work for `registry`: a token without scope (Bearer) or
   * GET /v2/ (Basic). Throws AuthError when they do not.
   */
  async checkLogin(registry: string, o: Abortable = {}): Promise<void> {
    const res = await this.transport.request({
      method: 'GET', url: new URL('/v2/', this.transport.baseUrl(registry)), registry, scopes: [], expect: [200],
      what: 'log in', ref: registry, signal: o.signal,
    });
    await res.body.dump().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

function toRef(r: Reference | string): Reference {
  return typeof r === 'string' ? parseReference(r) : r;
}

/** Returns the URL of `rel="next"` in a Link header, if any. */
export function nextLink(h: string | undefined): string | undefined {
  if (!h) return undefined;
  for (const part of h.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

/** Returns a function that runs at most `n` async tasks at once (FIFO). */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((res) => queue.push(res));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
