/**
 * Which proxy a registry request goes through: the rules of Go's `http.ProxyFromEnvironment`
 * (golang.org/x/net/http/httpproxy), which docker, skopeo and crane follow, so the same environment sends
 * tsbuild's requests where theirs go. Pure: the environment is passed in.
 *
 * - `HTTP_PROXY` is for `http://` requests, `HTTPS_PROXY` for `https://` ones (no fallback from one to the
 *   other); each is read upper case first, then lower case; an empty value counts as unset.
 * - A value without a scheme is `http://HOST[:PORT]`; schemes http and https are accepted. Go also takes socks5;
 *   undici's SOCKS5 support is experimental (it warns on stderr), so socks5 is refused with a clear error.
 * - `localhost` and loopback addresses (127.0.0.0/8, ::1) never go through a proxy.
 * - `NO_PROXY` is a comma-separated list: `*` (nothing is proxied), an IP (`10.1.2.3`, `[::1]:5000`), a CIDR
 *   (`10.0.0.0/8`), a domain (`example.com` matches it and its subdomains; `.example.com` and `*.example.com`
 *   only the subdomains), each IP or domain optionally with `:PORT` (then only that port matches). Names are
 *   compared as written, never resolved.
 */
import { BlockList, isIP } from 'node:net';
import { TsbuildError } from '../layer-store/core/index.js';

/** A proxy and the environment variable it came from (for messages). */
export interface ProxySetting {
  readonly url: URL;
  readonly variable: string;
}

interface HostRule { readonly kind: 'domain'; readonly suffix: string; readonly matchHost: boolean; readonly port: string }
interface IpRule { readonly kind: 'ip'; readonly ip: string; readonly port: string }
interface CidrRule { readonly kind: 'cidr'; readonly list: BlockList }
type NoProxyRule = HostRule | IpRule | CidrRule;

/** The parsed proxy environment. */
export interface ProxyConfig {
  /** A value that is not a usable proxy URL is kept as its error, thrown by the first request it would carry. */
  readonly http: ProxySetting | TsbuildError | undefined;
  readonly https: ProxySetting | TsbuildError | undefined;
  /** `all` for `NO_PROXY=*`. */
  readonly noProxy: readonly NoProxyRule[] | 'all';
}

/** No proxy at all (what an empty environment gives). */
export const NO_PROXY_CONFIG: ProxyConfig = { http: undefined, https: undefined, noProxy: [] };

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** Returns the first non-empty of `names` in `env`, with its name. */
function envAny(env: NodeJS.ProcessEnv, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value) return { name, value };
  }
  return undefined;
}

/** Returns the proxy URL in `value` (`http://` added to a bare `host[:port]`); throws USAGE naming `variable`. */
function parseProxy(variable: string, value: string): ProxySetting {
  const hint = `set ${variable} to a URL such as http://proxy.example:3128 (http or https; SOCKS proxies are not supported), or unset it`;
  const bad = (why: string, cause?: unknown): TsbuildError =>
    new TsbuildError('USAGE', `${variable}=${redactProxy(value)}: ${why}`, { hint, ...(cause !== undefined ? { cause } : {}) });
  // As Go: a value without `scheme://` is host[:port] of an HTTP proxy (`proxy:3128` is not scheme "proxy").
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch (e) {
    throw bad('not a proxy URL', e);
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw bad(`unsupported proxy scheme ${url.protocol.slice(0, -1)}`);
  if (!url.hostname) throw bad('not a proxy URL');
  return { url, variable };
}

function settingOrError(variable: string, value: string): ProxySetting | TsbuildError {
  try {
    return parseProxy(variable, value);
  } catch (e) {
    return e as TsbuildError;
  }
}

/** `value` with any password replaced, for messages. */
function redactProxy(value: string): string {
  return value.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:REDACTED@');
}

/** Splits `host:port` / `[v6]:port` as Go's net.SplitHostPort does; undefined when there is no port. */
function splitHostPort(s: string): { host: string; port: string } | undefined {
  const m = /^\[([^\]]*)\]:(\d*)$/.exec(s) ?? /^([^:[\]]*):(\d*)$/.exec(s);
  return m ? { host: m[1]!, port: m[2]! } : undefined;
}

/** Returns the NO_PROXY rules of `value` (malformed entries are skipped, as Go does). */
function parseNoProxy(value: string): readonly NoProxyRule[] | 'all' {
  const rules: NoProxyRule[] = [];
  for (const raw of value.split(',')) {
    const p = raw.trim().toLowerCase();
    if (!p) continue;
    if (p === '*') return 'all';
    const slash = p.indexOf('/');
    if (slash > 0) {
      const net = p.slice(0, slash);
      const prefix = Number(p.slice(slash + 1));
      const family = isIP(net);
      if (family && Number.isInteger(prefix) && prefix >= 0 && prefix <= (family === 4 ? 32 : 128)) {
        const list = new BlockList();
        list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
        rules.push({ kind: 'cidr', list });
      }
      continue;
    }
    const hp = splitHostPort(p);
    let host = hp ? hp.host : p;
    const port = hp ? hp.port : '';
    if (!hp && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (!host) continue;
    if (isIP(host)) {
      rules.push({ kind: 'ip', ip: canonicalIp(host), port });
      continue;
    }
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    rules.push({ kind: 'domain', suffix: matchHost ? `.${host}` : host, matchHost, port });
  }
  return rules;
}

/** An IP in one spelling (IPv6 compressed as URL does), so that `::1` and `0:0::1` compare equal. */
function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/**
 * Returns the proxy configuration of `env` (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, either case). A proxy value that
 * is not a usable URL does not throw here: proxyFor throws its USAGE error for the first request it would carry,
 * so that a bad HTTPS_PROXY stops a pull from a remote registry, not a build that never leaves the machine.
 */
export function proxyConfigFromEnv(env: NodeJS.ProcessEnv): ProxyConfig {
  const http = envAny(env, 'HTTP_PROXY', 'http_proxy');
  const https = envAny(env, 'HTTPS_PROXY', 'https_proxy');
  const no = envAny(env, 'NO_PROXY', 'no_proxy');
  return {
    http: http ? settingOrError(http.name, http.value) : undefined,
    https: https ? settingOrError(https.name, https.value) : undefined,
    noProxy: parseNoProxy(no?.value ?? ''),
  };
}

/** True for `localhost` and loopback IP literals (127.0.0.0/8, ::1, ::ffff:127.x.y.z), which are never proxied. */
function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const family = isIP(host);
  if (family === 4) return host.startsWith('127.');
  if (family === 6) {
    const c = canonicalIp(host);
    return c === '::1' || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(c);
  }
  return false;
}

/**
 * Returns the proxy for a request to `url` under `cfg`, or undefined to connect directly. Throws the USAGE error
 * of a proxy value that is not a usable URL when the request would go through it.
 */
export function proxyFor(url: URL, cfg: ProxyConfig): ProxySetting | undefined {
  const setting = url.protocol === 'https:' ? cfg.https : url.protocol === 'http:' ? cfg.http : undefined;
  if (!setting) return undefined;
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isLoopbackHost(host)) return undefined;
  if (cfg.noProxy === 'all') return undefined;
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  const family = isIP(host);
  for (const r of cfg.noProxy) {
    if (r.kind === 'cidr') {
      if (family && r.list.check(host, family === 4 ? 'ipv4' : 'ipv6')) return undefined;
    } else if (r.kind === 'ip') {
      if (family && canonicalIp(host) === r.ip && (!r.port || r.port === port)) return undefined;
    } else if ((host.endsWith(r.suffix) || (r.matchHost && host === r.suffix.slice(1))) && (!r.port || r.port === port)) {
      return undefined;
    }
  }
  if (setting instanceof TsbuildError) throw setting;
  return setting;
}
