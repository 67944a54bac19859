/**
 * The first request to a registry goes without the ping (GET /v2/), as containerd's resolver does: it learns the
 * challenge from its own answer (a 401 carries it, and the request goes again authorized). An anonymous pull or push
 * sends no GET /v2/; token and Basic registries still authenticate; and a registry that answered the first request
 * without asking for auth (a public repository) still gets credentials when a later request is refused with a
 * challenge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { LayerStore, copyImage } from '../../layer-store/index.js';
import { startRegistry } from '../helpers/registry.js';
import { startTokenServer } from '../helpers/token-server.js';
import { Credential, RegistryClient, parseReference, staticKeychain } from '../../registry-client/index.js';
import { makeImage, pullAll, pushImage } from './fixture.js';

/** The requests distribution logged after log offset `from`, as `METHOD path`. */
function requests(log: string, from: number): string[] {
  return log.slice(from).split('\n').filter((l) => l.includes('response completed')).map((l) => {
    const m = /http\.request\.method=(\w+)/.exec(l);
    const u = /http\.request\.uri=(?:"([^"]*)"|(\S+))/.exec(l);
    return `${m?.[1] ?? '?'} ${u?.[1] ?? u?.[2] ?? '?'}`;
  });
}

async function settledLog(reg: { log(): string }, from: number, last: string): Promise<string[]> {
  // distribution logs a request after answering it: wait for the last one to appear.
  for (let i = 0; i < 50 && !reg.log().slice(from).includes(last); i++) await new Promise((r) => setTimeout(r, 100));
  return requests(reg.log(), from);
}

test('an anonymous pull and push send no GET /v2/: the manifest and the HEADs come first', async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-store-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const img = await makeImage([3000, 2000]);
  const mark = reg.log().length;
  const pusher = new RegistryClient({ concurrency: 1 });
  t.after(() => pusher.close());
  await pushImage(pusher.destination(parseReference(`${reg.host}/probe/app:v1`)), img, ['v1']);
  const pushed = await settledLog(reg, mark, 'PUT /v2/probe/app/manifests/v1');
  assert.ok(pushed[0]?.startsWith('HEAD /v2/probe/app/blobs/'), pushed.join(', '));
  assert.ok(!pushed.includes('GET /v2/'), pushed.join(', '));

  const mark2 = reg.log().length;
  const puller = new RegistryClient();
  t.after(() => puller.close());
  const store = await LayerStore.open(root);
  const d = await copyImage(puller.source(parseReference(`${reg.host}/probe/app:v1`)), store.destination(), { tags: ['app:v1'], concurrency: 1 });
  assert.equal(d.digest, img.manifest.digest);
  const pulled = await settledLog(reg, mark2, `/blobs/${img.layers.at(-1)!.digest}`);
  assert.deepEqual(pulled.slice(0, 1), ['GET /v2/probe/app/manifests/v1'], pulled.join(', '));
  assert.equal(pulled.length, 1 + 1 + img.layers.length, `the manifest, the config and the layers only: ${pulled.join(', ')}`);
});

test('a token registry: the first request\'s 401 brings the challenge, one token per scope set, push and pull', async (t) => {
  const ts = await startTokenServer({ users: { bob: 'pw' } });
  t.after(() => ts.stop());
  const reg = await startRegistry({ mode: 'token', token: ts });
  t.after(() => reg.stop());
  const keychain = staticKeychain({ [reg.host]: new Credential({ source: 'test', username: 'bob', password: 'pw' }) });
  const client = new RegistryClient({ keychain });
  t.after(() => client.close());
  const img = await makeImage([5000]);
  const ref = parseReference(`${reg.host}/tok/app:v1`);
  await pushImage(client.destination(ref), img, ['v1']);
  const fresh = new RegistryClient({ keychain });
  t.after(() => fresh.close());
  assert.equal((await pullAll(fresh.source(ref))).manifest.digest, img.manifest.digest);
  assert.deepEqual(ts.requests.map((r) => [r.user, r.scopes.join(' '), r.status]), [
    ['bob', 'repository:tok/app:pull,push', 200],
    ['bob', 'repository:tok/app:pull', 200],
  ]);
});

test('a registry that answered the first request without a challenge still gets credentials when a later one asks', async (t) => {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const auth = req.headers.authorization === `Basic ${Buffer.from('carol:pw').toString('base64')}` ? 'auth' : 'anon';
    seen.push(`${req.method} ${req.url} ${auth}`);
    if (req.url === '/v2/public/tags/list' || auth === 'auth') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'x', tags: ['a'] }));
    } else {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'auth required' }] }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new RegistryClient({ keychain: staticKeychain({ [host]: new Credential({ source: 'test', username: 'carol', password: 'pw' }) }) });
  t.after(() => client.close());
  const list = async (repo: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const tag of client.tags(parseReference(`${host}/${repo}`))) out.push(tag);
    return out;
  };
  assert.deepEqual(await list('public'), ['a']);
  assert.deepEqual(await list('private'), ['a']);
  assert.deepEqual(await list('private'), ['a']);
  assert.deepEqual(seen, [
    'GET /v2/public/tags/list anon',
    'GET /v2/private/tags/list anon',
    'GET /v2/private/tags/list auth',
    'GET /v2/private/tags/list auth',
  ]);
});
