/**
 * fetch() for the downloads that are not registry traffic (ADD <url>, a URL build context, `import <url>`,
 * SOURCE_DATE_EPOCH of a URL), on the same routes as the registry client (dispatchers.ts):
 * - through the proxy HTTP_PROXY / HTTPS_PROXY / NO_PROXY name for the URL (proxy.ts: Go's ProxyFromEnvironment
 *   rules, which docker and BuildKit apply to ADD), never for loopback;
 * - with the certificates of NODE_EXTRA_CA_CERTS, which the `tsbuild` launcher hands over as
 *   TSBUILD_EXTRA_CA_CERTS (bin/tsbuild): Node's own fetch no longer sees them there.
 * A request that needs neither goes through Node's fetch as it is (no undici loaded). Redirects are the
 * caller's: each hop is a call of its own, so each gets its own route.
 */
import { noopLogger } from '../layer-store/core/index.js';
import { Dispatchers } from './dispatchers.js';
import { proxyConfigFromEnv, proxyFor } from './proxy.js';
import { RegistrySchemes } from './schemes.js';

let shared: Dispatchers | undefined;

function dispatchers(): Dispatchers {
  shared ??= new Dispatchers({
    agent: { keepAliveTimeout: 4_000 },
    schemes: new RegistrySchemes([]),
    proxy: proxyConfigFromEnv(process.env),
    logger: noopLogger,
  });
  return shared;
}

/**
 * Node's fetch of `url`, routed as the registry client routes its requests (see the header). Throws the USAGE
 * error of a proxy variable that is not a usable URL when the request would go through it.
 */
export async function webFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const u = new URL(url);
  const needsRoute = proxyFor(u, proxyConfigFromEnv(process.env)) !== undefined
    || (u.protocol === 'https:' && !!process.env['TSBUILD_EXTRA_CA_CERTS']);
  if (!needsRoute) return fetch(u, init);
  const dispatcher = await dispatchers().for(u, undefined);
  // Node's fetch takes an undici dispatcher (its documented extension of RequestInit).
  return fetch(u, { ...init, dispatcher } as RequestInit);
}
