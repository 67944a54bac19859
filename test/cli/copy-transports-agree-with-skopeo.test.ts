/**
 * `tsbuild copy` between skopeo's transports, each direction checked with skopeo itself: what tsbuild writes
 * skopeo reads with the same digests, and what skopeo writes tsbuild reads back. Registry sides use a loopback
 * distribution registry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { MediaTypes, digestHex, digestOf, hostPlatform, formatPlatform } from '../../layer-store/index.js';

const run = promisify(execFile);
let reg: RegistryHandle;
let authReg: RegistryHandle;
let work: string;
let root: string;

const ts = (...args: string[]) => runCli(['--root', root, '--progress', 'quiet', ...args]);
const skopeo = async (...args: string[]) => (await run('skopeo', args, { maxBuffer: 64 << 20 })).stdout;
const rawDigest = async (ref: string, ...flags: string[]) => digestOf(Buffer.from(await skopeo('inspect', '--raw', ...flags, ref), 'utf8'));
const configDigest = async (ref: string, ...flags: string[]) => digestOf(Buffer.from(await skopeo('inspect', '--config', '--raw', ...flags, ref), 'utf8'));
function ok(r: ReturnType<typeof runCli>): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-xport-'));
  root = join(work, 'root');
  await mkdir(join(work, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(work, 'rootfs', 'etc', 'hello'), 'hello\n');
  await run('tar', ['-C', join(work, 'rootfs'), '-cf', join(work, 'rootfs.tar'), '.']);
  ok(ts('import', join(work, 'rootfs.tar'), 'app:1'));
  reg = await startRegistry();
  authReg = await startRegistry({ mode: 'htpasswd', users: { alice: 's3cret' } });
});
after(async () => {
  await reg?.stop();
  await authReg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('oci: store → layout keeps the digest skopeo sees; a layout skopeo wrote comes back with its digest', async () => {
  const out = ok(ts('copy', 'app:1', `oci:${join(work, 'lay')}:v1`));
  const digest = /sha256:[a-f0-9]{64}/.exec(out)![0];
  assert.equal(await rawDigest(`oci:${join(work, 'lay')}:v1`), digest);
  await skopeo('copy', `oci:${join(work, 'lay')}:v1`, `oci:${join(work, 'lay2')}:other`);
  ok(ts('copy', `oci:${join(work, 'lay2')}:other`, 'store:back:1'));
  ok(ts('copy', 'back:1', `oci:${join(work, 'lay3')}`));
  assert.equal(await rawDigest(`oci:${join(work, 'lay3')}`), digest);
  // a second name in the same layout is added, the first stays
  ok(ts('copy', 'app:1', `oci:${join(work, 'lay')}:v2`));
  const names = (JSON.parse(await readFile(join(work, 'lay', 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] }).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
  assert.deepEqual(names.sort(), ['v1', 'v2']);
});

test('oci-archive: both directions with skopeo, digests kept', async () => {
  const a = join(work, 'a.tar');
  const digest = /sha256:[a-f0-9]{64}/.exec(ok(ts('copy', 'app:1', `oci-archive:${a}:v1`)))![0];
  assert.equal(await rawDigest(`oci-archive:${a}:v1`), digest);
  const b = join(work, 'b.tar');
  await skopeo('copy', `oci-archive:${a}:v1`, `oci-archive:${b}:fromskopeo`);
  const back = /sha256:[a-f0-9]{64}/.exec(ok(ts('copy', `oci-archive:${b}:fromskopeo`, `oci:${join(work, 'lay4')}:x`)))![0];
  assert.equal(back, digest);
  const missing = ts('copy', `oci-archive:${b}:nope`, 'store:x:1');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no image nope .*fromskopeo/);
});

test('docker-archive: the config (image ID) survives both ways; GNU tar and skopeo read what tsbuild wrote', async () => {
  const d = join(work, 'd.tar');
  const printed = ok(ts('copy', 'app:1', `docker-archive:${d}:example.com/app:1`));
  const cfg = await configDigest(`oci:${join(work, 'lay')}:v1`);
  assert.equal(printed, `docker-archive:${d}:example.com/app:1: ${cfg} (image ID: a docker-archive keeps no manifest)\n`);
  assert.equal(await configDigest(`docker-archive:${d}`), cfg);
  const { stdout: list } = await run('tar', ['-tf', d]);
  assert.match(list, new RegExp(`^${digestHex(cfg)}\\.json$`, 'm'));
  assert.match(list, /^[a-f0-9]{64}\/layer\.tar$/m);
  const manifest = JSON.parse((await run('tar', ['-xOf', d, 'manifest.json'])).stdout) as { RepoTags: string[] }[];
  assert.deepEqual(manifest[0]!.RepoTags, ['example.com/app:1']);
  const s = join(work, 's.tar');
  await skopeo('copy', `oci:${join(work, 'lay')}:v1`, `docker-archive:${s}:skopeo/made:2`);
  ok(ts('copy', `docker-archive:${s}:skopeo/made:2`, `oci:${join(work, 'lay5')}:y`));
  assert.equal(await configDigest(`oci:${join(work, 'lay5')}:y`), cfg);
  ok(ts('copy', `docker-archive:${s}:@0`, 'store:fromarchive:1'));
});

test('docker:// both ways against a registry; --dest-creds/--src-creds speak for each side', async () => {
  const digest = await rawDigest(`oci:${join(work, 'lay')}:v1`);
  ok(ts('copy', `oci:${join(work, 'lay')}:v1`, `docker://${reg.host}/x/app:1`));
  assert.equal(await rawDigest(`docker://${reg.host}/x/app:1`, '--tls-verify=false'), digest);
  ok(ts('copy', `docker://${reg.host}/x/app:1`, `oci-archive:${join(work, 'r.tar')}`));
  assert.equal(await rawDigest(`oci-archive:${join(work, 'r.tar')}`), digest);
  // a bare name with a registry host is the registry
  ok(ts('copy', 'app:1', `${reg.host}/x/bare:1`));
  assert.equal(await rawDigest(`docker://${reg.host}/x/bare:1`, '--tls-verify=false'), digest);

  const denied = runCli(['--root', root, '--progress', 'quiet', 'copy', 'app:1', `docker://${authReg.host}/p/app:1`, '--dest-creds', 'alice:wrong'], { env: { ...process.env, DOCKER_CONFIG: work } });
  assert.notEqual(denied.code, 0);
  ok(runCli(['--root', root, '--progress', 'quiet', 'copy', 'app:1', `docker://${authReg.host}/p/app:1`, '--dest-creds', 'alice:s3cret', '--dest-tls-verify=false'], { env: { ...process.env, DOCKER_CONFIG: work } }));
  assert.equal(await rawDigest(`docker://${authReg.host}/p/app:1`, '--tls-verify=false', '--creds', 'alice:s3cret'), digest);
  ok(runCli(['--root', root, '--progress', 'quiet', 'copy', `docker://${authReg.host}/p/app:1`, `oci:${join(work, 'lay6')}`, '--src-creds', 'alice:s3cret'], { env: { ...process.env, DOCKER_CONFIG: work } }));
  assert.equal(await rawDigest(`oci:${join(work, 'lay6')}`), digest);
});

test('an index: every platform by default (and with -a), one with --platform or --override-arch, refused by docker-archive with --all', async () => {
  const lay = join(work, 'lay');
  const index = JSON.parse(await readFile(join(lay, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[] };
  const m = index.manifests.find((e) => e.annotations?.['org.opencontainers.image.ref.name'] === 'v1')!;
  // a second "platform": the same image under another architecture (the platform is the index's word)
  const host = hostPlatform();
  const other = host.architecture === 'arm64' ? 'amd64' : 'arm64';
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [
    { mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture: host.architecture } },
    { mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture: other } },
  ] }));
  const idxDigest = digestOf(idx);
  await writeFile(join(lay, 'blobs', 'sha256', digestHex(idxDigest)), idx);
  index.manifests.push({ mediaType: MediaTypes.ociIndex, digest: idxDigest, size: idx.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } });
  await writeFile(join(lay, 'index.json'), JSON.stringify(index));

  assert.match(ok(ts('copy', `oci:${lay}:multi`, `oci:${join(work, 'm1')}:all`)), new RegExp(idxDigest));
  assert.equal(await rawDigest(`oci:${join(work, 'm1')}:all`), idxDigest);
  assert.match(ok(ts('copy', '-a', `oci:${lay}:multi`, `docker://${reg.host}/x/multi:1`)), new RegExp(idxDigest));
  assert.equal(await rawDigest(`docker://${reg.host}/x/multi:1`, '--tls-verify=false'), idxDigest);
  assert.match(ok(ts('copy', '--platform', `linux/${other}`, `oci:${lay}:multi`, `oci:${join(work, 'm2')}:one`)), new RegExp(m.digest));
  assert.match(ok(ts('copy', '--override-arch', other, `oci:${lay}:multi`, `oci:${join(work, 'm3')}:one`)), new RegExp(m.digest));
  assert.equal(await rawDigest(`oci:${join(work, 'm3')}:one`), m.digest);
  const refused = ts('copy', '--all', `oci:${lay}:multi`, `docker-archive:${join(work, 'm.tar')}`);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /docker-archive holds one image: --all-platforms cannot be honoured/);
  ok(ts('copy', `oci:${lay}:multi`, `docker-archive:${join(work, 'm.tar')}:multi:1`));
  assert.match(await skopeo('inspect', `docker-archive:${join(work, 'm.tar')}`), new RegExp(`"Architecture": "${host.architecture}"`));
  void formatPlatform;
});
