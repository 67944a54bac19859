/**
 * A pull or push that goes to its registry directly (no proxy) speaks HTTP/1.1 over Node's `net` sockets
 * (registry-client/http1.ts, wire.ts): undici, which loads Node's http2 and tls modules and compiles llhttp to
 * WebAssembly in each process, is loaded only for a proxy route, and Node's `http` client (whose parser copies every
 * body byte) not at all. Observable in the modules Node loaded by the time the CLI exits: net, but neither http,
 * http2, tls nor any WebAssembly module, for a pull and a push to a plain-HTTP loopback registry. (The proxy
 * routes, undici's, are honours-proxy-environment.test.ts's.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, parseReference } from '../../registry-client/index.js';
import { startRegistry } from '../helpers/registry.js';
import { repoRoot } from '../helpers/paths.js';
import { makeImage, pushImage } from './fixture.js';

test('a direct pull and push load Node\'s net, not undici or Node\'s http (no http, http2, tls or WebAssembly)', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-http1-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const seed = new RegistryClient();
  t.after(() => seed.close());
  const img = await makeImage([20_000, 5000]);
  await pushImage(seed.destination(parseReference(`${reg.host}/direct/app:v1`)), img, ['v1']);

  // Records the modules Node loaded, and whether any WebAssembly was compiled, when the process exits.
  const preload = join(dir, 'modules.cjs');
  writeFileSync(preload, [
    "let wasm = false;",
    "for (const k of ['compile', 'instantiate']) { const f = WebAssembly[k]; WebAssembly[k] = function (...a) { wasm = true; return f.apply(this, a); }; }",
    "const M = WebAssembly.Module; WebAssembly.Module = function (...a) { wasm = true; return new M(...a); };",
    "process.on('exit', () => require('fs').writeFileSync(process.env.MODULES_OUT, JSON.stringify({ modules: process.moduleLoadList, wasm })));",
  ].join('\n'));
  const run = (name: string, args: readonly string[], env: Record<string, string> = {}): { modules: string[]; wasm: boolean } => {
    const out = join(dir, `${name}.json`);
    const r = spawnSync(join(repoRoot(), 'bin', 'tsbuild'), ['--root', join(dir, 'root'), '--progress', 'quiet', ...args], {
      encoding: 'utf8', env: { ...process.env, ...env, NODE_OPTIONS: `--require ${preload}`, MODULES_OUT: out },
    });
    assert.equal(r.status, 0, `tsbuild ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return JSON.parse(readFileSync(out, 'utf8')) as { modules: string[]; wasm: boolean };
  };
  for (const [name, args] of [
    ['pull', ['pull', `${reg.host}/direct/app:v1`]],
    ['push', ['push', `${reg.host}/direct/app:v1`, `${reg.host}/direct/copy:v1`]],
  ] as const) {
    const { modules, wasm } = run(name, args);
    assert.ok(modules.includes('NativeModule net'), `${name}: Node's net loaded`);
    assert.deepEqual(modules.filter((m) => m === 'NativeModule http' || m === 'NativeModule http2' || m === 'NativeModule tls'), [], `${name}: no http, http2 or tls (undici loads all three)`);
    assert.equal(wasm, false, `${name}: no WebAssembly (undici's llhttp) compiled`);
  }
});
