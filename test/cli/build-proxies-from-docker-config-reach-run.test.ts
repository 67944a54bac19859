/**
 * The proxies of Docker's config.json reach RUN as build args, as the docker CLI passes them (ParseProxyConfig):
 * the entry of the daemon host ($DOCKER_HOST) or else `default`; each setting as both HTTP_PROXY and http_proxy
 * (…), unless `--build-arg` gives that proxy (in either spelling: the user's value then reaches RUN in both); never in the image's history. A config that is not JSON is
 * one error naming the file.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { busyboxTar } from '../helpers/build-env.js';
import { onlyErrorLine, runCli } from '../helpers/cli.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { rootWithContext } from '../runtime-exec/killed-build.js';

let bb: BusyboxRootfs & { tar: string };
before(async () => {
  bb = await busyboxTar();
});
after(() => bb.cleanup());

const DOCKERFILE = 'FROM busybox:latest\nRUN echo "proxies $HTTP_PROXY|$http_proxy|$HTTPS_PROXY|$https_proxy|$NO_PROXY|$no_proxy|$ALL_PROXY|$all_proxy|$FTP_PROXY"\n';

const CONFIG = {
  auths: {},
  proxies: {
    default: { httpProxy: 'http://dflt:3128', httpsProxy: 'http://dflt-tls:3129', noProxy: 'localhost,.internal', allProxy: 'socks5://dflt:1080' },
    'tcp://builder.example:2376': { httpProxy: 'http://per-host:8080' },
  },
};

async function dockerConfig(dir: string, text: string): Promise<string> {
  const d = join(dir, 'docker-config');
  await mkdir(d);
  await writeFile(join(d, 'config.json'), text);
  return d;
}

test('proxies.default reaches RUN in both spellings; a --build-arg proxy wins in both spellings; history has none', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const cfg = await dockerConfig(env.ctx, JSON.stringify(CONFIG));
  const { DOCKER_HOST: _h, ...rest } = process.env;
  const r = runCli(['--root', env.root, '--progress', 'plain', 'build', '-t', 'proxied:latest', '--build-arg', 'HTTP_PROXY=http://given:1', env.ctx], { env: { ...rest, DOCKER_CONFIG: cfg } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /proxies http:\/\/given:1\|http:\/\/given:1\|http:\/\/dflt-tls:3129\|http:\/\/dflt-tls:3129\|localhost,\.internal\|localhost,\.internal\|socks5:\/\/dflt:1080\|socks5:\/\/dflt:1080\|$/m);
  const h = runCli(['--root', env.root, 'history', '--no-trunc', 'proxied:latest']);
  assert.equal(h.code, 0, h.stderr);
  assert.doesNotMatch(h.stdout, /dflt|given/);
});

test('the proxies entry of $DOCKER_HOST is used instead of default', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const cfg = await dockerConfig(env.ctx, JSON.stringify(CONFIG));
  const r = runCli(['--root', env.root, '--progress', 'plain', 'build', env.ctx], { env: { ...process.env, DOCKER_CONFIG: cfg, DOCKER_HOST: 'tcp://builder.example:2376' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /proxies http:\/\/per-host:8080\|http:\/\/per-host:8080\|\|\|\|\|\|\|$/m);
});

test('a Docker config.json that is not JSON is one error naming the file', { timeout: 60_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const cfg = await dockerConfig(env.ctx, '{"proxies": ');
  const r = runCli(['--root', env.root, 'build', env.ctx], { env: { ...process.env, DOCKER_CONFIG: cfg } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(onlyErrorLine(r), new RegExp(`${cfg}/config\\.json: not JSON`));
});
