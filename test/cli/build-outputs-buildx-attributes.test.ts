import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, onlyErrorLine, TSBUILD_LAUNCHER, type CliResult } from '../helpers/cli.js';
import { busyboxTar } from '../helpers/build-env.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

// buildx's --output contract: type=registry pushes, type=image honours name= and push=, dest=- and `-o -` write
// to stdout (never a file named "-", never a terminal), platform-split, and unknown attributes are usage errors.
const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let reg: RegistryHandle;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[], cwd?: string): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args], cwd ? { cwd } : {});
}
const ok = (r: CliResult): void => assert.equal(r.code, 0, r.stderr);

/** Runs tsbuild with stdout to a pipe; returns the bytes it wrote there and its stderr. */
function tsbuildToPipe(args: string[], cwd: string): Promise<{ code: number | null; out: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(TSBUILD_LAUNCHER, ['--root', root, '--progress', 'plain', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out: Buffer.concat(out), stderr }));
  });
}

/** Lists a tar given as bytes with GNU tar (through its stdin). */
async function tarList(bytes: Buffer): Promise<string[]> {
  const p = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  p.stdin.end(bytes);
  const code = await new Promise((res) => p.once('close', res));
  assert.equal(code, 0, `tar -t: ${err}`);
  return out.split('\n').filter(Boolean);
}

/** Returns the manifest skopeo reads from the registry, or undefined when the reference is not there. */
async function remoteManifest(ref: string): Promise<{ mediaType: string; config: { mediaType: string } } | undefined> {
  try {
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-outattr-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'a.txt'), 'A\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nRUN echo b > /b.txt\n');
  ok(tsbuild(['import', bb.tar, 'busybox:latest']));
});
after(async () => {
  await reg?.stop();
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('-o type=registry,name=… pushes (it used to exit 0 and push nothing); type=image honours push=true|false', async () => {
  const pushed = `${reg.host}/out/reg:1`;
  ok(tsbuild(['build', '-o', `type=registry,name=${pushed}`, ctx]));
  const m = await remoteManifest(pushed);
  // An index: the image and buildx's default provenance of a pushed image (README: Attestations).
  assert.equal(m?.mediaType, 'application/vnd.oci.image.index.v1+json', 'the registry holds the image');

  const kept = `${reg.host}/out/image:no`;
  ok(tsbuild(['build', '-o', `type=image,name=${kept},push=false`, ctx]));
  assert.equal(await remoteManifest(kept), undefined, 'push=false pushes nothing');
  assert.match(tsbuild(['images']).stdout, /out\/image\s+no/, 'but names the image in the store');

  // Two names in one quoted CSV field, as buildx reads it; push=true pushes both.
  const a = `${reg.host}/out/image:a`;
  const b = `${reg.host}/out/image:b`;
  ok(tsbuild(['build', '-o', `type=image,"name=${a},${b}",push=true`, ctx]));
  assert.ok(await remoteManifest(a));
  assert.ok(await remoteManifest(b));

  // -t replaces the output's name= (buildx), and --push makes the image output push.
  const tagged = `${reg.host}/out/tagged:1`;
  ok(tsbuild(['build', '-t', tagged, '-o', `type=image,name=${reg.host}/out/ignored:1`, '--push', ctx]));
  assert.ok(await remoteManifest(tagged));
  assert.equal(await remoteManifest(`${reg.host}/out/ignored:1`), undefined);

  const noName = tsbuild(['build', '-o', 'type=registry', ctx]);
  assert.equal(noName.code, 2);
  assert.match(onlyErrorLine(noName), /push needs a name/);
});

test('dest=- and -o - write to stdout (read here through a pipe); no file named "-" appears', async () => {
  const cwd = join(work, 'cwd');
  await mkdir(cwd);
  const fsTar = await tsbuildToPipe(['build', '-o', '-', ctx], cwd);
  assert.equal(fsTar.code, 0, fsTar.stderr);
  const fsList = await tarList(fsTar.out);
  assert.ok(fsList.includes('./a.txt') && fsList.includes('./b.txt') && fsList.includes('./bin/busybox'), fsList.slice(0, 20).join(' '));

  const oci = await tsbuildToPipe(['build', '-t', 'piped:1', '-o', 'type=oci,dest=-', ctx], cwd);
  assert.equal(oci.code, 0, oci.stderr);
  const ociList = await tarList(oci.out);
  assert.ok(ociList.includes('oci-layout') && ociList.includes('index.json'), ociList.join(' '));
  await writeFile(join(work, 'piped.oci.tar'), oci.out);
  const { stdout: cfg } = await run('skopeo', ['inspect', '--config', `oci-archive:${join(work, 'piped.oci.tar')}`]);
  assert.equal(JSON.parse(cfg).rootfs.diff_ids.length, 3);

  const dck = await tsbuildToPipe(['build', '-t', 'piped:1', '-o', 'type=docker,dest=-', ctx], cwd);
  assert.equal(dck.code, 0, dck.stderr);
  assert.ok((await tarList(dck.out)).includes('manifest.json'));

  const tarDefault = await tsbuildToPipe(['build', '-o', 'type=tar', ctx], cwd);
  assert.equal(tarDefault.code, 0, tarDefault.stderr);
  assert.ok((await tarList(tarDefault.out)).includes('./b.txt'), 'type=tar without dest writes to stdout, as buildx');
  assert.deepEqual(await readdir(cwd), [], 'nothing was written to the working directory');

  const two = tsbuild(['build', '-o', '-', '-o', 'type=oci,dest=-', ctx], cwd);
  assert.equal(two.code, 2);
  assert.match(onlyErrorLine(two), /multiple outputs configured to write to stdout/);
  const quiet = tsbuild(['build', '-q', '-o', '-', ctx], cwd);
  assert.equal(quiet.code, 2);
  assert.match(onlyErrorLine(quiet), /cannot share it with -q/);
});

test('dest=- is refused when stdout is a terminal, as buildx refuses to write to a console', async () => {
  // util-linux script gives the command a pseudo-terminal as stdout.
  const cmd = [TSBUILD_LAUNCHER, '--root', root, 'build', '-o', 'type=tar,dest=-', ctx].map((a) => `'${a}'`).join(' ');
  const r = await run('script', ['-qec', cmd, '/dev/null']).then(() => undefined, (e: { code: number; stdout: string }) => e);
  assert.ok(r, 'the build failed');
  assert.equal(r.code, 2);
  assert.match(r.stdout, /error: dest file is required for tar exporter\. refusing to write to console/);
});

test('type=local keeps platform-split: true puts one platform in DEST/<os>_<arch>', async () => {
  const dest = join(work, 'split');
  ok(tsbuild(['build', '--platform', 'linux/amd64', '-o', `type=local,dest=${dest},platform-split=true`, ctx]));
  assert.deepEqual(await readdir(dest), ['linux_amd64']);
  assert.ok(existsSync(join(dest, 'linux_amd64', 'b.txt')));
});

test('several platforms: local and tar split per platform by default; platform-split=false merges and refuses a path both write', async () => {
  const sctx = join(work, 'scratch');
  await mkdir(sctx, { recursive: true });
  await writeFile(join(sctx, 'a.txt'), 'A\n');
  // No RUN: builds for any platform without emulation. ARG TARGETARCH names a file only that platform writes.
  await writeFile(join(sctx, 'Dockerfile'), 'FROM scratch\nARG TARGETARCH\nCOPY a.txt /only-$TARGETARCH\n');
  const dest = join(work, 'multi');
  const tarFile = join(work, 'multi.tar');
  ok(tsbuild(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=local,dest=${dest}`, '-o', `type=tar,dest=${tarFile}`, sctx]));
  assert.deepEqual((await readdir(dest)).sort(), ['linux_amd64', 'linux_arm64']);
  const { stdout } = await run('tar', ['-tf', tarFile]);
  assert.ok(stdout.includes('./linux_arm64/only-arm64') && stdout.includes('./linux_amd64/only-amd64'), 'one tar, a directory per platform (BuildKit)');
  const merged = join(work, 'merged');
  ok(tsbuild(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=local,dest=${merged},platform-split=false`, sctx]));
  assert.deepEqual((await readdir(merged)).sort(), ['only-amd64', 'only-arm64']);
  await writeFile(join(sctx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n');
  const clash = tsbuild(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=local,dest=${join(work, 'clash')},platform-split=false`, sctx]);
  assert.equal(clash.code, 2);
  // Found only once both platforms are built: the last line of stderr, after the steps.
  assert.match(clash.stderr.trim().split('\n').at(-1)!, /^error: cannot overwrite a\.txt from linux\/amd64 with linux\/arm64 when split option is disabled/);
});

test('type=oci,tar=false writes an OCI layout directory skopeo reads; a second build replaces its name there', async () => {
  const layout = join(work, 'layout');
  ok(tsbuild(['build', '-t', 'layout:1', '-o', `type=oci,tar=false,dest=${layout}`, ctx]));
  const ref = `oci:${layout}:docker.io/library/layout:1`;
  const { stdout: first } = await run('skopeo', ['inspect', '--config', ref]);
  await writeFile(join(ctx, 'a.txt'), 'A2\n');
  try {
    ok(tsbuild(['build', '-t', 'layout:1', '-o', `type=oci,tar=false,dest=${layout}`, ctx]));
  } finally {
    await writeFile(join(ctx, 'a.txt'), 'A\n');
  }
  const { stdout: second } = await run('skopeo', ['inspect', '--config', ref]);
  assert.notDeepEqual(JSON.parse(second).rootfs, JSON.parse(first).rootfs, 'the name points at the new image');
  const { stdout: index } = await run('cat', [join(layout, 'index.json')]);
  assert.equal((JSON.parse(index) as { manifests: unknown[] }).manifests.length, 1, 'one entry per name');
});

test('an output type or attribute tsbuild cannot honour is a usage error naming it', async () => {
  const cases: [string, RegExp][] = [
    ['type=image,name=x:1,push-by-digest=true', /attribute "push-by-digest" is not supported/],
    ['type=registry,name=x:1,compression=zstd', /attribute "compression" is not supported/],
    ['type=local,dest=out,mode=delete', /mode=delete is not supported/],
    ['type=docker,dest=x,tar=false', /tar=false is not supported/],
    ['type=oci,tar=false', /dest is required for oci exporter with tar=false/],
    ['type=image,name=x:1,store=false', /store=false is not supported/],
    ['type=s3,dest=x', /unknown --output type "s3"/],
    ['type=tar,dest=x,oci-mediatypes=false', /attribute "oci-mediatypes" is not supported/],
    ['type=local,dest=-', /dest cannot be stdout for local exporter/],
    ['type=image,push=maybe', /non-bool value for push/],
  ];
  for (const [spec, want] of cases) {
    const r = tsbuild(['build', '-o', spec, ctx], work);
    assert.equal(r.code, 2, `${spec}: ${r.stderr}`);
    assert.match(onlyErrorLine(r), want, spec);
  }
});

test('--load is accepted: the image is in the store either way', async () => {
  ok(tsbuild(['build', '--load', '-t', 'loaded:1', ctx]));
  assert.match(tsbuild(['images']).stdout, /loaded\s+1/);
  ok(tsbuild(['build', '-o', 'type=docker', '-t', 'loaded:2', ctx]));
  assert.match(tsbuild(['images']).stdout, /loaded\s+2/);
});
