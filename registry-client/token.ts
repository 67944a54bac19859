/**
 * The token step of Bearer auth (distribution's token spec): ask the challenge's realm for a token for a scope set.
 * Transport (transport.ts) caches what this returns per registry and scope set.
 */
import { AbortedError } from '../layer-store/core/index.js';
import { parseTokenAnswer, type Challenge } from './challenge.js';
import { AuthError, connectionError } from './errors.js';
import type { Http1Request, Http1Response } from './http1.js';
import type { Credential } from './keychain.js';
import type { ProxySetting } from './proxy.js';
import { backoffDelay, delay, type RetryPolicy } from './retry.js';

/** A token, when it expires (ms since the epoch) and the scopes it grants (undefined: opaque). */
export interface CachedToken { token: string; expiresAt: number; granted: readonly string[] | undefined }

/** What the token is for. */
export interface TokenSpec { readonly registry: string; readonly scopes: readonly string[]; readonly ref?: string | undefined; readonly signal?: AbortSignal | undefined }

/** How the token request goes out (the transport's route, retry policy and proxy choice). */
export interface TokenContext {
  readonly dispatch: (url: URL, r: Http1Request) => Promise<Http1Response>;
  readonly retry: RetryPolicy;
  readonly proxyFor: (url: URL) => ProxySetting | undefined;
  readonly userAgent: string;
}

/**
 * Returns a token for `spec.scopes` from the challenge's realm (GET with Basic credentials, or POST with a refresh
 * token), retrying connection failures and retryable statuses within `ctx.retry`; an AuthError when the endpoint
 * refuses or answers without a token.
 */
export async function fetchToken(challenge: Challenge, c: Credential | undefined, spec: TokenSpec, ctx: TokenContext): Promise<CachedToken> {
  const realm = challenge.realm;
  const source = c?.source ?? 'anonymous';
  if (!realm) throw new AuthError({ status: 401, registry: spec.registry, source, requested: spec.scopes, granted: undefined, detail: 'Bearer challenge without realm' });
  const url = new URL(realm);
  let r: Http1Response;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      if (c?.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'tsbuild', access_type: 'offline' });
        if (challenge.service) form.set('service', challenge.service);
        if (spec.scopes.length) form.set('scope', spec.scopes.join(' '));
        r = await ctx.dispatch(url, { origin: url.origin, path: url.pathname + url.search, method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': ctx.userAgent }, ...(spec.signal ? { signal: spec.signal } : {}) });
      } else {
        const u = new URL(url);
        if (challenge.service) u.searchParams.set('service', challenge.service);
        for (const s of spec.scopes) u.searchParams.append('scope', s);
        const headers: Record<string, string> = { 'user-agent': ctx.userAgent };
        if (c?.username) headers.authorization = 'Basic ' + Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64');
        r = await ctx.dispatch(u, { origin: u.origin, path: u.pathname + u.search, method: 'GET', headers, ...(spec.signal ? { signal: spec.signal } : {}) });
      }
    } catch (e) {
      if (spec.signal?.aborted) throw new AbortedError({ cause: e });
      if (attempt >= ctx.retry.maxAttempts || Date.now() - started > ctx.retry.maxTotalMs) throw connectionError({ method: 'GET', url, what: 'fetch registry token' }, e, ctx.proxyFor(url));
      await delay(backoffDelay(ctx.retry, attempt), spec.signal);
      continue;
    }
    if (ctx.retry.retryStatuses.includes(r.statusCode) && attempt < ctx.retry.maxAttempts) {
      await r.body.dump().catch(() => undefined);
      await delay(backoffDelay(ctx.retry, attempt), spec.signal);
      continue;
    }
    break;
  }
  const text = await r.body.text();
  if (r.statusCode !== 200) {
    throw new AuthError({ status: r.statusCode, registry: spec.registry, source, requested: spec.scopes, granted: undefined, detail: 'token endpoint refused', ...(spec.ref ? { ref: spec.ref } : {}) });
  }
  const tok = parseTokenAnswer(text, Date.now());
  if ('detail' in tok) throw new AuthError({ status: 200, registry: spec.registry, source, requested: spec.scopes, granted: undefined, detail: tok.detail, ...(tok.cause ? { cause: tok.cause } : {}) });
  return tok;
}
