/**
 * The image commands the way docker scripts call them: `images [REPO[:TAG]]` newest first with `-q`, `-a` and
 * `--format`; `save IMG > file` (a terminal refused), `load < file` (also what podman saved), `import -` and
 * `import URL` with `-c`/`-m` (what is not a tar refused), `prune -f`. Checked with GNU tar, podman and a
 * loopback HTTP server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TSBUILD_LAUNCHER, onlyErrorLine, runCli } from '../helpers/cli.js';

const PODMAN = ['/usr/bin/podman'].find((p) => existsSync(p));

let dir: string;
let root: string;
let tarBytes: Buffer;

/** `tsbuild ARGS…` with `input` on stdin (a pipe) and extra env; stdout as bytes. */
function tsb(args: string[], o: { input?: Buffer | string; env?: NodeJS.ProcessEnv; r?: string } = {}) {
  const r = spawnSync(TSBUILD_LAUNCHER, ['--root', o.r ?? root, ...args], { input: o.input ?? '', env: { ...process.env, ...(o.env ?? {}) }, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout, out: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** tsb without blocking this process's event loop (its HTTP server must answer the child meanwhile). */
function tsbAsync(args: string[]): Promise<{ code: number | null; out: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSBUILD_LAUNCHER, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, stderr }));
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-docker-scripts-'));
  root = join(dir, 'root');
  await mkdir(join(dir, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'etc', 'hello'), 'hello\n');
  tarBytes = execFileSync('tar', ['-C', join(dir, 'rootfs'), '-c', '.']);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('import - reads stdin; images lists newest first, filters by REPO[:TAG], -q prints IDs, --format runs a template', () => {
  const ids: string[] = [];
  for (const [name, epoch] of [['old/app:1', '1000000000'], ['new/app:1', '1700000000'], ['mid/app:2', '1500000000']] as const) {
    const r = tsb(['import', '-', name], { input: tarBytes, env: { SOURCE_DATE_EPOCH: epoch } });
    assert.equal(r.code, 0, r.stderr);
    ids.push(r.out.trim());
  }
  const table = tsb(['images']).out.split('\n');
  assert.match(table[0]!, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/);
  assert.deepEqual(table.slice(1, 4).map((l) => l.split(/ {3,}/)[0]), ['new/app', 'mid/app', 'old/app'], 'newest first');
  assert.match(table[1]!, / years ago /);
  assert.equal(tsb(['images', '-a', '--format', '{{.Repository}}:{{.Tag}}']).out, 'new/app:1\nmid/app:2\nold/app:1\n');
  assert.equal(tsb(['images', 'mid/app']).out.split('\n').length, 3, 'header, one row, final newline');
  assert.equal(tsb(['images', '--format', '{{.Repository}}', '*/app:1']).out, 'new/app\nold/app\n');
  assert.equal(tsb(['images', '-q', 'old/app:1']).out, `${ids[0]!.slice(7, 19)}\n`);
  assert.equal(tsb(['images', '--no-trunc', '--format', '{{.ID}} {{.CreatedAt}}', 'old/app']).out, `${ids[0]} 2001-09-09 01:46:40 +0000 UTC\n`);
  const bad = tsb(['images', '--format', '{{.Nope}}']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: invalid --format template "\{\{\.Nope\}\}"/);
});

test('save with no -o writes to a pipe (GNU tar reads it) and refuses a terminal; load reads stdin', async () => {
  assert.equal(tsb(['import', '-', 'save/me:1'], { input: tarBytes }).code, 0);
  const saved = tsb(['save', '--format', 'docker', 'save/me:1']);
  assert.equal(saved.code, 0, saved.stderr);
  const file = join(dir, 'saved.tar');
  await writeFile(file, saved.stdout);
  const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
  assert.ok(names.includes('manifest.json') && names.includes('repositories'), names.join(','));
  // A terminal on stdout (script(1) gives the command a pty): refused, as docker does, and nothing written.
  const tty = spawnSync('script', ['-qec', `${TSBUILD_LAUNCHER} --root ${root} save save/me:1`, '/dev/null'], { encoding: 'utf8' });
  assert.notEqual(tty.status, 0);
  assert.match(tty.stdout, /error: cowardly refusing to save to a terminal: use the -o flag or redirect/);
  // load < file into a fresh store
  const fresh = join(dir, 'fresh');
  const loaded = tsb(['load'], { input: await readFile(file), r: fresh });
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.match(loaded.out, /Loaded image: docker\.io\/save\/me:1/);
  assert.equal(tsb(['load', '-q'], { input: await readFile(file), r: fresh }).out, '', '-q prints nothing');
  const notAnArchive = tsb(['load'], { input: 'hello', r: fresh });
  assert.equal(notAnArchive.code, 1);
  assert.match(onlyErrorLine({ code: notAnArchive.code, stdout: '', stderr: notAnArchive.stderr }), /\(-\)/, 'stdin is named "-"');
});

test('load < what podman save wrote', { skip: !PODMAN && 'podman not installed' }, async (t) => {
  const pargs = ['--root', join(dir, 'podman', 'root'), '--runroot', join(dir, 'podman', 'run'), '--storage-driver', 'vfs'];
  t.after(() => { spawnSync(PODMAN!, [...pargs, 'system', 'reset', '-f'], { stdio: 'ignore' }); });
  execFileSync(PODMAN!, [...pargs, 'import', '--change', 'CMD ["/bin/true"]', '-', 'podman/made:1'], { input: tarBytes, env: { ...process.env, TMPDIR: dir }, stdio: ['pipe', 'ignore', 'ignore'] });
  const out = join(dir, 'podman.tar');
  execFileSync(PODMAN!, [...pargs, 'save', '--format', 'docker-archive', '-o', out, 'localhost/podman/made:1'], { env: { ...process.env, TMPDIR: dir }, stdio: 'ignore' });
  const r = tsb(['load'], { input: await readFile(out), r: join(dir, 'from-podman') });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.out, /Loaded image: localhost\/podman\/made:1/);
  const cmd = tsb(['inspect', '--format', '{{json .Config.Cmd}}', 'localhost/podman/made:1'], { r: join(dir, 'from-podman') });
  assert.equal(cmd.out, '["/bin/true"]\n');
});

test('import URL downloads the tar (gzip too); a failed download or a non-tar names the URL', async (t) => {
  const gz = gzipSync(tarBytes);
  const server: Server = createServer((req, res) => {
    if (req.url === '/rootfs.tar.gz') { res.writeHead(200); res.end(gz); return; }
    if (req.url === '/text') { res.writeHead(200); res.end('not a tar\n'); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await tsbAsync(['import', '-c', 'ENTRYPOINT ["/bin/sh"]', '-c', 'LABEL from=url', `${base}/rootfs.tar.gz`, 'url/app:1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(tsb(['inspect', '--format', '{{.Comment}}|{{json .Config.Entrypoint}}|{{.Config.Labels.from}}|{{len .RootFS.Layers}}', 'url/app:1']).out, `Imported from ${base}/rootfs.tar.gz|["/bin/sh"]|url|1\n`);
  const missing = await tsbAsync(['import', `${base}/nope.tar`, 'url/app:2']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`^error: cannot download ${base}/nope\\.tar: HTTP 404`));
  const text = await tsbAsync(['import', `${base}/text`, 'url/app:3']);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /not a tar archive/);
  assert.ok(text.stderr.includes(`${base}/text`) && !text.stderr.includes('tsbuild-'), `the URL is named, not a temp file: ${text.stderr}`);
});

test('import refuses stdin that is not a tar, and a --change that is not one of the allowed instructions', () => {
  const r = tsb(['import', '-', 'bad/app:1'], { input: 'hello, not a tar\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: not a tar archive.*\(-\)/);
  const c = tsb(['import', '-c', 'RUN echo hi', '-', 'bad/app:2'], { input: tarBytes });
  assert.equal(c.code, 2);
  assert.match(c.stderr, /^error: invalid --change "RUN echo hi": RUN is not a valid change command/);
  assert.doesNotMatch(tsb(['images']).out, /bad\/app/);
  const many = tsb(['images', '--filter', 'reference=*/app', 'new/app']);
  assert.equal(many.out.split('\n').length, 3, `--filter does not swallow the REPO argument: ${many.out}`);
});

test('import with no name makes an unnamed image; -m sets the comment; prune -f removes it', () => {
  const r = tsb(['import', '-m', 'no name', '-'], { input: tarBytes, env: { SOURCE_DATE_EPOCH: '1' } });
  assert.equal(r.code, 0, r.stderr);
  const id = r.out.trim();
  assert.equal(tsb(['images', '--filter', 'dangling=true', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']).out, `<none>:<none> ${id.slice(7, 19)}\n`);
  assert.equal(tsb(['history', '--format', '{{.Comment}}', id]).out, 'no name\n');
  const p = tsb(['prune', '-f']);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.out, new RegExp(`Deleted image: `));
  assert.equal(tsb(['images', '--filter', 'dangling=true', '-q']).out, '');
  assert.equal(runCli(['--root', root, 'inspect', id]).code, 1);
});
