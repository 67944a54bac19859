/**
 * The routes the transport sends through: direct or through the proxy the environment names for the URL
 * (proxy.ts: Go's ProxyFromEnvironment rules), each with certificates verified or, for an insecure registry's
 * own HTTPS host, not. A direct route is our HTTP/1.1 over Node's sockets (http1.ts, wire.ts); a proxy route is undici's
 * ProxyAgent: HTTPS goes through a proxy by CONNECT, plain HTTP as an absolute-form request to it, as Go's
 * transport does. undici is loaded only for a proxy route or for webFetch's dispatchers (most commands never
 * talk to a registry, and a registry command with no proxy never loads it).
 */
import { readFileSync } from 'node:fs';
import type { Agent, Dispatcher, ProxyAgent } from 'undici';
import { redactUrl, TsbuildError, type Logger } from '../layer-store/core/index.js';
import { Http1Route, type Http1Request, type Http1Response } from './http1.js';
import { withBaselineParser } from './parser-tier.js';
import { proxyFor, type ProxyConfig, type ProxySetting } from './proxy.js';
import type { RegistrySchemes } from './schemes.js';

/** What `connect`/`requestTls` take: extra roots, or no verification. */
type TlsOptions = { ca?: (string | Buffer)[] | Buffer; rejectUnauthorized?: boolean };

/**
 * Node's bundled roots plus the certificates in `$TSBUILD_EXTRA_CA_CERTS`, the name under which the `tsbuild`
 * launcher (bin/tsbuild) hands over NODE_EXTRA_CA_CERTS: Node 20 reads and parses that file at start-up, before
 * any code runs (~80 ms on every command, most of which never open a TLS connection), so the launcher takes it
 * out of Node's sight and the certificates are added here, as Node would have (to the default roots only: an
 * explicit --ca-file replaces the roots, as a `ca` option does in Node). Undefined when the variable is unset.
 */
async function extraCaCerts(): Promise<(string | Buffer)[] | undefined> {
  const file = process.env['TSBUILD_EXTRA_CA_CERTS'];
  if (!file) return undefined;
  let extra: Buffer;
  try {
    extra = readFileSync(file);
  } catch {
    return undefined; // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS, and goes on without it
  }
  const { rootCertificates } = await import('node:tls');
  return [...rootCertificates, extra];
}

/** The PEM bundle of --ca-file (or SSL_CERT_FILE); USAGE naming the file when it cannot be read. */
export function readCaFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new TsbuildError('USAGE', `cannot read the CA file ${file} (--ca-file, default $SSL_CERT_FILE): ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      location: { ref: file }, hint: 'pass a readable PEM file with --ca-file, or unset SSL_CERT_FILE', cause: e,
    });
  }
}

/**
 * undici's classes. undici is CommonJS: under a bundler its namespace may carry the exports on `default` only.
 * Read ProxyAgent only when a proxy is used (the CLI bundle loads it on that first access).
 */
async function loadUndici(): Promise<{ readonly Agent: typeof Agent; readonly ProxyAgent: typeof ProxyAgent }> {
  const m = await import('undici');
  return m.Agent ? m : (m as unknown as { default: typeof m }).default;
}

export interface DispatchersOptions {
  /** Pool options of every undici route (timeouts, keep-alive, connections); the direct routes take the timeouts. */
  readonly agent: Agent.Options;
  /** PEM bundle that replaces the default roots (--ca-file). */
  readonly caFile?: string | undefined;
  readonly schemes: RegistrySchemes;
  readonly proxy: ProxyConfig;
  readonly logger: Logger;
}

/** Where a request goes: `request` resolves once the response headers arrived (undici's Dispatcher.request shape). */
export interface Route {
  request(r: Http1Request): Promise<Http1Response>;
}

/** The routes and dispatchers of one transport, created on first use and closed together. */
export class Dispatchers {
  readonly #o: DispatchersOptions;
  readonly #routes = new Map<string, Promise<Dispatcher>>();
  readonly #direct = new Map<string, Http1Route>();
  #verifiedTls: Promise<TlsOptions> | undefined;

  constructor(o: DispatchersOptions) {
    this.#o = o;
  }

  /** Returns the proxy a request to `url` goes through (undefined: direct). */
  proxyFor(url: URL): ProxySetting | undefined {
    return proxyFor(url, this.#o.proxy);
  }

  /**
   * Returns the dispatcher for a request to `url` (of `registry`, when it is one of its own URLs): through the
   * proxy the environment names for it, and without certificate checks for an insecure registry's HTTPS host.
   */
  for(url: URL, registry: string | undefined): Promise<Dispatcher> {
    const unverified = registry !== undefined && this.#o.schemes.unverified(url, registry);
    const proxy = this.proxyFor(url);
    const key = `${unverified ? 'unverified' : 'verified'} ${proxy ? proxy.url.href : 'direct'}`;
    let d = this.#routes.get(key);
    if (!d) {
      if (proxy) this.#o.logger.debug('registry proxy', { origin: url.origin, proxy: redactUrl(proxy.url), from: proxy.variable });
      d = this.#create(unverified, proxy);
      this.#routes.set(key, d);
    }
    return d;
  }

  /**
   * Returns the route of a registry request to `url` (of `registry`, when it is one of its own URLs): HTTP/1.1 over
   * Node's sockets when it goes direct (http1.ts), else undici's proxy agent, whose first request compiles undici's
   * WebAssembly parser without TurboFan tier-up (parser-tier.ts). A HEAD keeps its connection on either: undici's
   * default sends `Connection: close` with every HEAD (`reset: false` turns that off); Node's client expects no
   * body with one, as Go's client does.
   */
  async route(url: URL, registry: string | undefined): Promise<Route> {
    const unverified = registry !== undefined && this.#o.schemes.unverified(url, registry);
    if (this.proxyFor(url) === undefined) {
      const key = unverified ? 'unverified' : 'verified';
      let r = this.#direct.get(key);
      if (!r) {
        r = new Http1Route({
          timeoutMs: this.#o.agent.headersTimeout ?? 300_000,
          keepAliveTimeoutMs: this.#o.agent.keepAliveTimeout ?? 4_000,
          tls: () => (unverified ? Promise.resolve({ rejectUnauthorized: false }) : this.#tls()),
          maxSockets: this.#o.agent.connections ?? undefined,
        });
        this.#direct.set(key, r);
      }
      return r;
    }
    const d = await this.for(url, registry);
    return {
      request: (r) => withBaselineParser(() => d.request({ ...r, method: r.method as Dispatcher.HttpMethod, body: r.body as Buffer, ...(r.method === 'HEAD' ? { reset: false } : {}) })),
    };
  }

  async close(): Promise<void> {
    for (const r of this.#direct.values()) r.close();
    this.#direct.clear();
    const all = [...this.#routes.values()];
    this.#routes.clear();
    await Promise.all(all.map(async (d) => (await d.catch(() => undefined))?.close()));
  }

  /**
   * Extra roots for verified TLS: --ca-file's, else Node's plus $TSBUILD_EXTRA_CA_CERTS, else none. The files are
   * read at the first verified TLS connection, not when the client is made: a build whose every step is a cache
   * hit, or that talks only to loopback or insecure registries, never reads them (SSL_CERT_FILE, the --ca-file
   * default, is the system bundle on many machines: 220 KB read at every build), and an unreadable --ca-file fails
   * only what needs it, with USAGE naming the file.
   */
  #tls(): Promise<TlsOptions> {
    this.#verifiedTls ??= this.#o.caFile ? new Promise((resolve) => resolve({ ca: readCaFile(this.#o.caFile!) })) : extraCaCerts().then((ca) => (ca ? { ca } : {}));
    return this.#verifiedTls;
  }

  async #create(unverified: boolean, proxy: ProxySetting | undefined): Promise<Dispatcher> {
    // undici loads beside the CA read.
    const [verified, u] = await Promise.all([this.#tls(), loadUndici()]);
    const target: TlsOptions = unverified ? { rejectUnauthorized: false } : verified;
    if (!proxy) return new u.Agent({ ...this.#o.agent, connect: target });
    return new u.ProxyAgent({
      ...this.#o.agent,
      uri: proxy.url.href,
      requestTls: target,
      proxyTls: verified,
      // Plain HTTP goes to an HTTP proxy as an absolute-form request (as Go's transport does), not a tunnel.
      proxyTunnel: false,
    });
  }
}
