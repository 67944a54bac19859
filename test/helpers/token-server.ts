import { createServer, type IncomingMessage, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TokenAuthConfig } from './registry.js';

export interface TokenRequestRecord { readonly user: string | undefined; readonly scopes: readonly string[]; readonly granted: readonly string[]; readonly status: number }

export interface TokenServerOptions {
  /** username → password; requests with wrong credentials get 401. */
  readonly users: Readonly<Record<string, string>>;
  /** Returns the actions granted on `repo` (default: pull,push for a known user, pull for anonymous). */
  readonly grant?: (user: string | undefined, repo: string, wanted: readonly string[]) => readonly string[];
  /** Token lifetime in seconds (default 300). */
  readonly expiresIn?: number;
  /** The first N tokens are issued already expired (beyond distribution's 60 s leeway) while `expires_in` says they are fresh. */
  readonly staleTokens?: number;
}

export interface TokenServerHandle extends TokenAuthConfig {
  readonly requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

/**
 * A distribution-style token server on 127.0.0.1: GET /token?service=&scope=… with optional Basic auth,
 * answering a JWT (RS256) whose `access` claim lists the granted scopes. The RSA key and a self-signed
 * certificate are made at start with `openssl req -x509`; the registry trusts the cert (rootcertbundle).
 * The JWT `kid` is the libtrust key id of the public key, which is how distribution finds the key.
 */
export async function startTokenServer(o: TokenServerOptions): Promise<TokenServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-token-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=tsbuild-test-token'], { stdio: 'ignore' });
  const key = createPrivateKey(await readFile(keyFile));
  const kid = libtrustKeyId(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const service = 'tsbuild-test-registry';
  const issuer = 'tsbuild-test-issuer';
  const requests: TokenRequestRecord[] = [];
  let issued = 0;
  const grant = o.grant ?? ((user, _repo, wanted) => (user ? wanted : wanted.filter((a) => a === 'pull')));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const user = basicUser(req, o.users);
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    if (user === false) {
      requests.push({ user: undefined, scopes, granted: [], status: 401 });
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const s of scopes) {
      const [type, name, actions] = s.split(':');
      if (!type || !name) continue;
      const granted = grant(user, name, (actions ?? '').split(',').filter(Boolean));
      if (granted.length) access.push({ type, name, actions: [...granted] });
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = o.expiresIn ?? 300;
    const stale = issued++ < (o.staleTokens ?? 0);
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: stale ? now - 300 : now + expiresIn, nbf: stale ? now - 600 : now - 10, iat: stale ? now - 600 : now, jti: randomBytes(8).toString('hex'), access };
    const token = jwt({ alg: 'RS256', typ: 'JWT', kid }, claims, key);
    requests.push({ user, scopes, granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`), status: 200 });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certFile, requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Returns the user of a valid Basic header, undefined when there is none, false when it is wrong. */
function basicUser(req: IncomingMessage, users: Readonly<Record<string, string>>): string | undefined | false {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(h);
  if (!m) return false;
  const dec = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = dec.indexOf(':');
  const u = dec.slice(0, i);
  return i > 0 && users[u] !== undefined && users[u] === dec.slice(i + 1) ? u : false;
}

function jwt(header: object, claims: object, key: ReturnType<typeof createPrivateKey>): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** libtrust's key id: sha256 of the SPKI DER, first 240 bits, base32, in 12 colon-separated groups of 4. */
function libtrustKeyId(spkiDer: Buffer): string {
  const b32 = base32(createHash('sha256').update(spkiDer).digest().subarray(0, 30));
  return b32.match(/.{4}/g)!.join(':');
}

function base32(buf: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of buf) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
