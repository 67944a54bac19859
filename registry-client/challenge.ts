/**
 * Registry auth challenges and tokens, as pure functions: parsing `WWW-Authenticate` (distribution's token
 * auth: `Bearer realm=…,service=…` or `Basic realm=…`), reading which scopes a JWT grants, and the key under
 * which a token is cached per scope set. No I/O; Transport (transport.ts) does the ping, challenge and fetch.
 */

/** What a registry's `WWW-Authenticate` asks for; `none`: the ping succeeded without credentials. */
export interface Challenge { scheme: 'none' | 'basic' | 'bearer'; realm?: string; service?: string }

/** Returns the scopes a distribution-style JWT grants (`access` claim), or undefined for an opaque token. */
export function grantedScopes(token: string): string[] | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { access?: { type?: string; name?: string; actions?: string[] }[] };
    if (!Array.isArray(claims.access)) return undefined;
    return claims.access.map((a) => `${a.type ?? '?'}:${a.name ?? '?'}:${(a.actions ?? []).join(',')}`);
  } catch {
    return undefined;
  }
}

/** Parses a WWW-Authenticate header (`Bearer realm="…",service="…",scope="…"` or `Basic realm=…`). */
export function parseChallenge(h: string): Challenge {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(h);
  if (!m) return { scheme: 'basic' };
  const scheme = m[1]!.toLowerCase() === 'bearer' ? 'bearer' : 'basic';
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let x = re.exec(m[2] ?? ''); x; x = re.exec(m[2] ?? '')) params[x[1]!.toLowerCase()] = x[2] !== undefined ? x[2].replace(/\\(.)/g, '$1') : (x[3] ?? '');
  return { scheme, ...(params.realm !== undefined ? { realm: params.realm } : {}), ...(params.service !== undefined ? { service: params.service } : {}) };
}

/** Returns the token-cache key of a scope set (order-independent). */
export function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

/** Seconds a token lives when its answer gives no `expires_in` (the distribution token spec's default). */
const TOKEN_DEFAULT_TTL_S = 60;

/**
 * Returns the token of a token endpoint's JSON answer (`token`, else `access_token`), when it expires (ms since the
 * epoch: `issued_at`, never after `now`, plus `expires_in`) and the scopes it grants; or what is wrong with it.
 */
export function parseTokenAnswer(text: string, now: number): { token: string; expiresAt: number; granted: readonly string[] | undefined } | { detail: string; cause?: unknown } {
  let j: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
  try {
    j = JSON.parse(text) as typeof j;
  } catch (e) {
    return { detail: 'token endpoint sent invalid JSON', cause: e };
  }
  const token = j.token ?? j.access_token;
  if (!token) return { detail: 'token endpoint sent no token' };
  const issued = j.issued_at ? Date.parse(j.issued_at) : NaN;
  const base = Number.isNaN(issued) ? now : Math.min(issued, now);
  const ttl = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : TOKEN_DEFAULT_TTL_S;
  return { token, expiresAt: base + ttl * 1000, granted: grantedScopes(token) };
}
