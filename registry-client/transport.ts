/**
 * The one HTTP stack of registry-client (ggcr's transport): ping (or the first GET/HEAD's own answer: #probe) → challenge → basic or bearer auth with a token
 * cache per registry and scope set → the request, with redirects of GET/HEAD (Authorization dropped across
 * hosts), retries of retryable failures within the retry policy (Retry-After honoured; a request may opt out, as
 * an upload PATCH does), and registry errors that keep the distribution JSON, the status and whether a retry
 * may help. URLs are redacted in every log line and error. Auth challenge parsing is challenge.ts; bounded body
 * reads are response.ts.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  AbortedError, TsbuildError, noopEvents, noopLogger, redactUrl,
  type EventSink, type Logger,
} from '../layer-store/core/index.js';
import { AuthError, RegistryError, connectionError, viaProxy } from './errors.js';
import type { Credential, Keychain } from './keychain.js';
import { parseChallenge, scopeKey, type Challenge } from './challenge.js';
import { fetchToken, type CachedToken } from './token.js';
import { headerValue, readLimitedText, type RegistryResponse } from './response.js';
import { RegistrySchemes } from './schemes.js';
import { Dispatchers } from './dispatchers.js';
import type { Http1Request, Http1Response } from './http1.js';
import { proxyConfigFromEnv, type ProxyConfig } from './proxy.js';
import { DEFAULT_RETRY_POLICY, backoffDelay, delay, parseRetryAfter, type RetryPolicy } from './retry.js';

export interface RequestSpec {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  readonly url: URL;
  /** Registry name (key for auth), e.g. `127.0.0.1:5000`. */
  readonly registry: string;
  /** Token scopes this request needs, e.g. `repository:app:pull,push`. */
  readonly scopes: readonly string[];
  /** Statuses that count as success; anything else becomes a RegistryError/AuthError. */
  readonly expect: readonly number[];
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The request body: one buffer, or a list sent one after another without being joined (an upload chunk held
   * as the blocks it was read in; the caller sets Content-Length).
   */
  readonly body?: Buffer | readonly Buffer[];
  /** False to disable retries (PATCH: the caller recovers by asking for the upload offset). */
  readonly retry?: boolean;
  /** What the request does, for error messages ("pull manifest"). */
  readonly what: string;
  /** The user-facing reference, for error locations. */
  readonly ref?: string;
  readonly signal?: AbortSignal | undefined;
}

/** A registry's auth: its challenge (`learned`: from a request's own answer, not the ping), the credential, the tokens. */
interface RegistryAuthState { challenge: Challenge; credential: Credential | undefined; tokens: Map<string, CachedToken>; learned?: boolean }

export interface TransportOptions {
  readonly keychain: Keychain;
  readonly insecure: readonly string[];
  readonly caFile?: string | undefined;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly connections: number | undefined;
  /** Proxies by Go's ProxyFromEnvironment rules (proxy.ts; default: read from process.env). */
  readonly proxy: ProxyConfig;
  readonly events: EventSink;
  readonly logger: Logger;
}

const USER_AGENT = 'tsbuild/0.1 (+https://github.com/opencontainers/distribution-spec)';
const MAX_REDIRECTS = 5;

/**
 * The HTTP layer of the registry client: keep-alive undici dispatchers (dispatchers.ts: direct or through the
 * environment's proxy), the ping/challenge,
 * Basic and Bearer auth with a token cache per scope set, redirects (dropping Authorization across hosts)
 * and retries with backoff. It never logs secrets: URLs and errors go through redactUrl.
 */
export class Transport {
  readonly o: TransportOptions;
  readonly #schemes: RegistrySchemes;
  /** undici dispatchers per route (direct or proxy, verified or not), created on first use. */
  readonly #dispatchers: Dispatchers;
  readonly #auth = new Map<string, Promise<RegistryAuthState>>();

  constructor(o: Partial<TransportOptions> & { keychain: Keychain }) {
    this.o = {
      keychain: o.keychain,
      insecure: o.insecure ?? [],
      caFile: o.caFile,
      retry: o.retry ?? DEFAULT_RETRY_POLICY,
      timeoutMs: o.timeoutMs ?? 60_000,
      connections: o.connections,
      proxy: o.proxy ?? proxyConfigFromEnv(process.env),
      events: o.events ?? noopEvents,
      logger: o.logger ?? noopLogger,
    };
    this.#schemes = new RegistrySchemes(this.o.insecure);
    this.#dispatchers = new Dispatchers({
      agent: {
        keepAliveTimeout: 30_000,
        // No per-origin cap: callers bound their own parallelism, and a cap here could deadlock a caller that
        // opens more blob streams than the cap before consuming them.
        ...(o.connections !== undefined ? { connections: o.connections } : {}),
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      },
      caFile: this.o.caFile, schemes: this.#schemes, proxy: this.o.proxy, logger: this.o.logger,
    });
  }

  /** Returns the base URL (`https://host` or `http://host`) for `registry` (schemes.ts: loopback and insecure registries). */
  baseUrl(registry: string): string {
    return this.#schemes.baseUrl(registry);
  }

  /**
   * Sends one HTTP request on the route for `url` (dispatchers.ts: Node's HTTP client when direct, undici's
   * proxy agent through the environment's proxy; unverified for an insecure registry's own HTTPS host), on a
   * kept-alive connection when one is free. It first lets one turn of the event loop pass: both clients return
   * a keep-alive socket to their pool only after the response on it ended (Node's on the next tick, undici's a
   * turn later: client-h1.js resumes on setImmediate), so a request sent at once, as the next protocol step
   * always is, opened a new connection (a pull of 5 blobs, one at a time: 2 instead of 1).
   */
  async #dispatch(url: URL, registry: string | undefined, opts: Http1Request): Promise<Http1Response> {
    const d = await this.#dispatchers.route(url, registry);
    await nextTurn();
    return d.request(opts);
  }

  async close(): Promise<void> {
    await this.#dispatchers.close();
  }

  /**
   * Sends `spec` with auth, redirects and retries, and returns a response with an expected status
   * (its body unread). Any other status throws RegistryError (401/403: AuthError) after the body was read.
   */
  async request(spec: RequestSpec): Promise<RegistryResponse> {
    const started = Date.now();
    const p = this.o.retry;
    for (let attempt = 1; ; attempt++) {
      let retryAfter: number | undefined;
      let failure: unknown;
      try {
        const res = await this.#sendAuthorized(spec);
        if (spec.expect.includes(res.status)) return res;
        const err = await this.errorFrom(res, spec);
        if (!(err instanceof RegistryError) || !err.retryable) throw err;
        retryAfter = parseRetryAfter(headerValue(res.headers, 'retry-after'));
        failure = err;
      } catch (e) {
        if (spec.signal?.aborted) throw new AbortedError({ cause: e });
        if (TsbuildError.is(e) && !(e instanceof RegistryError && e.retryable)) throw e;
        failure = TsbuildError.is(e) ? e : connectionError(spec, e, this.#dispatchers.proxyFor(spec.url));
      }
      if (spec.retry === false || attempt >= p.maxAttempts) throw failure;
      const wait = retryAfter !== undefined ? Math.max(retryAfter, backoffDelay(p, attempt)) : backoffDelay(p, attempt);
      if (Date.now() - started + wait > p.maxTotalMs) throw failure;
      this.o.logger.debug('registry retry', { method: spec.method, url: redactUrl(spec.url), attempt, waitMs: wait, error: (failure as Error).message });
      try {
        await delay(wait, spec.signal);
      } catch (e) {
        throw new AbortedError({ cause: e });
      }
    }
  }

  /** Reads the body of an unexpected response and returns the error it stands for (AuthError for 401/403). */
  async errorFrom(res: RegistryResponse, spec: RequestSpec): Promise<TsbuildError> {
    // A 416 from distribution 2.8 declares a Content-Length it never sends: do not wait for that body.
    if (res.status === 416) res.body.destroy();
    const text = spec.method === 'HEAD' || res.status === 416 ? '' : await readLimitedText(res, 64 * 1024).catch(() => '');
    let code = '';
    let detail: string | undefined;
    try {
      const j = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
      code = j.errors?.[0]?.code ?? '';
      detail = j.errors?.[0]?.message;
    } catch {
      if (text && !/^<!doctype|<html/i.test(text)) detail = text.trim().slice(0, 200);
    }
    if (res.status === 401 || res.status === 403) {
      const st = await this.#auth.get(spec.registry)?.catch(() => undefined);
      const tok = st?.tokens.get(scopeKey(spec.scopes));
      return new AuthError({
        status: res.status, registry: spec.registry, source: st?.credential?.source ?? 'anonymous',
        requested: spec.scopes, granted: st?.challenge.scheme === 'bearer' ? tok?.granted : undefined,
        ...(code ? { detail: code } : {}), ...(spec.ref ? { ref: spec.ref } : {}),
      });
    }
    return new RegistryError(spec.what, {
      status: res.status, code, method: spec.method, url: res.url,
      retryable: this.o.retry.retryStatuses.includes(res.status),
      ...(detail !== undefined ? { detail } : {}), ...(spec.ref ? { ref: spec.ref } : {}),
    });
  }

  async #sendAuthorized(spec: RequestSpec): Promise<RegistryResponse> {
    if (!this.#auth.has(spec.registry) && (spec.method === 'GET' || spec.method === 'HEAD') && !this.#schemes.unprobed(spec.registry)) return this.#probe(spec);
    const st = await this.#state(spec.registry, spec.signal);
    const url = this.#schemes.moved(spec.url, spec.registry);
    return this.#sendAs(url !== spec.url ? { ...spec, url } : spec, st);
  }

  /** Sends `spec` authorized by `st`: once more with auth a learned 'none' did not ask for, once more with a fresh token on a 401. */
  async #sendAs(spec: RequestSpec, st: RegistryAuthState): Promise<RegistryResponse> {
    let res = await this.#send(spec, await this.#authorization(st, spec));
    const again = async (): Promise<RegistryResponse> => {
      await res.body.dump().catch(() => undefined);
      return this.#send(spec, await this.#authorization(st, spec));
    };
    const asked = res.status === 401 && st.learned && st.challenge.scheme === 'none' ? parseChallenge(headerValue(res.headers, 'www-authenticate') ?? '') : undefined;
    if (asked && asked.scheme !== 'none') {
      // No challenge was learned from the first request's answer (a public repository's), but this one asks for auth.
      st = this.#learned(spec.registry, asked, st.credential);
      res = await again();
    }
    if (res.status === 401 && st.challenge.scheme === 'bearer') {
      // One retry with a fresh token (it may have expired, or the server wants more scopes).
      st.tokens.delete(scopeKey(spec.scopes));
      res = await again();
    }
    return res;
  }

  /** Sends one request, following redirects; Authorization is dropped when a redirect leaves the host. */
  async #send(spec: RequestSpec, authorization: string | undefined): Promise<RegistryResponse> {
    let url = spec.url;
    let method: string = spec.method;
    let body = spec.body;
    const origin = url.host;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...(spec.headers ?? {}) };
      if (authorization && url.host === origin) headers.authorization = authorization;
      const r = await this.#dispatch(url, spec.registry, {
        origin: url.origin, path: url.pathname + url.search, method, headers,
        ...(body !== undefined ? { body } : {}),
        ...(spec.signal ? { signal: spec.signal } : {}),
      });
      const loc = headerValue(r.headers, 'location');
      if ([301, 302, 303, 307, 308].includes(r.statusCode) && loc && hop < MAX_REDIRECTS && (method === 'GET' || method === 'HEAD')) {
        await r.body.dump().catch(() => undefined);
        url = new URL(loc, url);
        if (r.statusCode === 303) { method = 'GET'; body = undefined; }
        this.o.logger.debug('registry redirect', { to: redactUrl(url), dropAuthorization: url.host !== origin });
        continue;
      }
      return { status: r.statusCode, headers: r.headers, body: r.body, url };
    }
  }

  /**
   * Sends the first request to a registry (GET or HEAD, its scheme known) without the ping (GET /v2/), as
   * containerd's resolver does: a 401 carries the challenge (then it goes again authorized), any other status means
   * none was asked (a later 401 with one still brings auth in: #sendAs). Requests made meanwhile wait for it.
   */
  async #probe(spec: RequestSpec): Promise<RegistryResponse> {
    let settle!: (st: RegistryAuthState) => void;
    let fail!: (e: unknown) => void;
    const p = new Promise<RegistryAuthState>((res, rej) => { settle = res; fail = rej; });
    p.catch(() => { if (this.#auth.get(spec.registry) === p) this.#auth.delete(spec.registry); });
    this.#auth.set(spec.registry, p);
    const credential = this.o.keychain.resolve(spec.registry);
    credential.catch(() => undefined);
    const url = this.#schemes.moved(spec.url, spec.registry);
    if (url !== spec.url) spec = { ...spec, url };
    try {
      const res = await this.#send(spec, undefined);
      const c = await credential.catch(async (e: unknown) => { await res.body.dump().catch(() => undefined); throw e; });
      const challenge: Challenge = res.status === 401 ? parseChallenge(headerValue(res.headers, 'www-authenticate') ?? '') : { scheme: 'none' };
      const st = this.#learned(spec.registry, challenge, c);
      settle(st);
      if (challenge.scheme === 'none') return res;
      await res.body.dump().catch(() => undefined);
      return await this.#sendAs(spec, st);
    } catch (e) {
      fail(e);
      throw e;
    }
  }

  /** Records `challenge`, learned from a request's answer, as `registry`'s auth state and returns that state. */
  #learned(registry: string, challenge: Challenge, credential: Credential | undefined): RegistryAuthState {
    const st: RegistryAuthState = { challenge, credential, tokens: new Map(), learned: true };
    this.#announce(registry, challenge, credential, 'none asked yet');
    this.#auth.set(registry, Promise.resolve(st));
    return st;
  }

  /** Logs and emits the challenge a registry answered with (`none`: what to say when it asked for none). */
  #announce(registry: string, challenge: Challenge, credential: Credential | undefined, none: string): void {
    const diag = { registry, scheme: challenge.scheme, credentials: challenge.scheme === 'none' ? none : credential?.source ?? 'anonymous', ...(challenge.realm ? { realm: redactUrl(challenge.realm) } : {}) };
    this.o.logger.debug('registry auth challenge', diag);
    this.o.events({ type: 'info', message: 'registry auth challenge', data: diag });
  }

  /** Returns (and caches per registry) the auth state: the ping's challenge and the keychain credential. */
  #state(registry: string, signal: AbortSignal | undefined): Promise<RegistryAuthState> {
    let p = this.#auth.get(registry);
    if (!p) {
      p = this.#ping(registry, signal);
      this.#auth.set(registry, p);
      p.catch(() => this.#auth.delete(registry));
    }
    return p;
  }

  /**
   * GET /v2/ without credentials: 200 means no auth, 401 carries the challenge (Basic or Bearer). An insecure
   * registry is tried once over HTTPS (certificates unchecked), then over plain HTTP when that fails to connect,
   * as containers/image's detectProperties and dockerd do.
   */
  async #ping(registry: string, signal: AbortSignal | undefined): Promise<RegistryAuthState> {
    if (this.#schemes.unprobed(registry)) {
      try {
        const st = await this.#pingAt(registry, signal, 1);
        this.#schemes.found(registry, 'https');
        return st;
      } catch (e) {
        if (signal?.aborted || !(e instanceof RegistryError) || e.status !== 0) throw e;
        this.o.logger.debug('insecure registry: HTTPS failed, trying plain HTTP', { registry, error: e.message });
        this.#schemes.found(registry, 'http');
      }
    }
    return this.#pingAt(registry, signal, this.o.retry.maxAttempts);
  }

  async #pingAt(registry: string, signal: AbortSignal | undefined, maxAttempts: number): Promise<RegistryAuthState> {
    const url = new URL('/v2/', this.baseUrl(registry));
    const credential = await this.o.keychain.resolve(registry);
    const p = this.o.retry;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.#dispatch(url, registry, { origin: url.origin, path: url.pathname, method: 'GET', headers: { 'user-agent': USER_AGENT }, ...(signal ? { signal } : {}) });
        await r.body.dump().catch(() => undefined);
        if (r.statusCode === 401 || r.statusCode < 300) {
          const challenge: Challenge = r.statusCode === 401 ? parseChallenge(headerValue(r.headers, 'www-authenticate') ?? '') : { scheme: 'none' };
          this.#announce(registry, challenge, credential, 'none needed');
          return { challenge, credential, tokens: new Map() };
        }
        if (!p.retryStatuses.includes(r.statusCode) || attempt >= maxAttempts) {
          throw new RegistryError(`registry ${registry} is not a v2 registry`, { status: r.statusCode, code: '', method: 'GET', url, retryable: false });
        }
      } catch (e) {
        if (signal?.aborted) throw new AbortedError({ cause: e });
        if (TsbuildError.is(e)) throw e;
        if (attempt >= maxAttempts || Date.now() - started > p.maxTotalMs) {
          // Already retried here: mark it final so request() does not multiply the attempts.
          const code = (e as { code?: string }).code ?? '';
          throw new RegistryError(`ping registry ${registry}${viaProxy(this.#dispatchers.proxyFor(url))}`, { status: 0, code, method: 'GET', url, retryable: false, cause: e, detail: (e as Error).message });
        }
      }
      await delay(backoffDelay(p, attempt), signal).catch((e) => { throw new AbortedError({ cause: e }); });
    }
  }

  async #authorization(st: RegistryAuthState, spec: RequestSpec): Promise<string | undefined> {
    const c = st.credential;
    if (st.challenge.scheme === 'none') return undefined;
    if (st.challenge.scheme === 'basic') {
      if (!c?.username) return undefined;
      return 'Basic ' + Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64');
    }
    if (c?.registryToken) return `Bearer ${c.registryToken}`;
    const key = scopeKey(spec.scopes);
    const cached = st.tokens.get(key);
    if (cached && cached.expiresAt > Date.now() + 5_000) return `Bearer ${cached.token}`;
    const tok = await fetchToken(st.challenge, st.credential, spec, { dispatch: (u, r) => this.#dispatch(u, undefined, r), retry: this.o.retry, proxyFor: (u) => this.#dispatchers.proxyFor(u), userAgent: USER_AGENT });
    st.tokens.set(key, tok);
    const diag = { registry: spec.registry, credentials: c?.source ?? 'anonymous', requested: [...spec.scopes], granted: tok.granted ? [...tok.granted] : 'unknown (opaque token)' };
    this.o.logger.debug('registry token', diag);
    this.o.events({ type: 'info', message: 'registry auth', data: diag });
    return `Bearer ${tok.token}`;
  }

}
