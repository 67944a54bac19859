/**
 * The README's command reference runs as written: every fenced block marked `<!-- tested -->` is run, in README
 * order, with `bash -e -o pipefail`, by the real `tsbuild` launcher on PATH, in a fresh directory with a store
 * holding busybox:latest, a loopback htpasswd registry standing in for `localhost:5000`, `rootfs/` (busybox) and
 * `app/` (a Dockerfile and hello.txt), as the README says. Every command `tsbuild --help` lists (and every
 * `manifest` verb) must appear in those blocks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';

const PASSWORD = 'readme-example-password';

/**
 * Runs `script` with bash without blocking this process's event loop: the loopback registry's log pipe is read
 * here, and a blocked loop would fill it and stall the registry.
 */
function bash(args: readonly string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
    child.once('error', reject);
    child.once('close', (status) => {
      if (timer) clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let bb: BusyboxRootfs & { tar: string };
let reg: RegistryHandle;
let work: string;
let env: NodeJS.ProcessEnv;

/** Returns the bodies of the README's fenced blocks marked `<!-- tested -->`, in order. */
function testedBlocks(readme: string): string[] {
  return [...readme.matchAll(/^<!-- tested -->\n```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** Returns the command words `tsbuild [PARENT] --help` lists under "Commands:" (`tsbuild images …` → images). */
function listedCommands(parent: string[]): string[] {
  const r = runCli([...parent, '--help']);
  assert.equal(r.code, 0, r.stderr);
  const section = r.stdout.split(/^Commands:$/m)[1]?.split(/^\S.*:$/m)[0] ?? '';
  const prefix = ['tsbuild', ...parent].join(' ');
  return [...section.matchAll(new RegExp(`^  ${prefix} (\\S+)`, 'gm'))].map((m) => m[1]!);
}

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry({ mode: 'htpasswd', users: { ci: PASSWORD } });
  work = await mkdtemp(join(tmpdir(), 'tsbuild-readme-ref-'));
  const bin = join(work, '.bin');
  await mkdir(bin);
  await symlink(TSBUILD_LAUNCHER, join(bin, 'tsbuild'));
  await mkdir(join(work, 'app'));
  await writeFile(join(work, 'app', 'Dockerfile'), 'FROM busybox:latest\nCOPY hello.txt /\nCMD ["cat", "/hello.txt"]\n');
  await writeFile(join(work, 'app', 'hello.txt'), 'hello from the README\n');
  const rootfs = spawnSync('cp', ['-a', bb.dir, join(work, 'rootfs')]);
  assert.equal(rootfs.status, 0, String(rootfs.stderr));
  await mkdir(join(work, '.docker'));
  env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    TSBUILD_ROOT: join(work, '.store'),
    DOCKER_CONFIG: join(work, '.docker'),
    REGISTRY_PASSWORD: PASSWORD,
  };
  delete env.TSBUILD_CONFIG;
  const imported = runCli(['import', bb.tar, 'busybox:latest'], { env });
  assert.equal(imported.code, 0, imported.stderr);
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  await bb?.cleanup();
});

test('every README block marked tested runs as written, and together they use every command', { timeout: 600_000 }, async () => {
  const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
  const blocks = testedBlocks(readme);
  assert.ok(blocks.length >= 4, `the README has its tested blocks (found ${blocks.length})`);

  const text = blocks.join('\n');
  const missing = [
    ...listedCommands([]).filter((c) => !new RegExp(`(^|[\\s|(&])tsbuild ${c}\\b`, 'm').test(text)),
    ...listedCommands(['manifest']).filter((c) => !text.includes(`tsbuild manifest ${c}`)).map((c) => `manifest ${c}`),
  ];
  assert.deepEqual(missing, [], 'every command of tsbuild --help has an example in a tested block');

  const outputs: string[] = [];
  for (const [i, block] of blocks.entries()) {
    const script = block.replaceAll('localhost:5000', reg.host);
    const r = await bash(['-e', '-o', 'pipefail', '-c', script], { cwd: work, env });
    assert.equal(r.status, 0, `tested block ${i + 1} failed (exit ${r.status}):\n${block}\nstderr:\n${r.stderr.slice(-3000)}`);
    assert.doesNotMatch(r.stderr, /^error: /m, `block ${i + 1} printed an error`);
    outputs.push(r.stdout);
  }
  // What the examples say they do, checked on their output.
  assert.match(outputs[0]!, /^hello from the README$/m, 'tsbuild run app:1 runs the CMD');
  assert.match(outputs[0]!, /^hi from \/tmp$/m, '-e and -w apply');
  assert.match(outputs[0]!, /^from a script on stdin$/m, '-i passes stdin');
  assert.match(outputs[1]!, /^\["cat","\/hello\.txt"\]$/m, 'inspect --format');
  assert.match(outputs[1]!, /^Loaded image: docker\.io\/library\/app:1$/m);
  assert.match(outputs[2]!, /^Login Succeeded/m);
  assert.match(outputs[3]!, /^team\/app$/m, 'catalog lists the repository');
  assert.match(outputs[3]!, /^(\.\/)?hello\.txt$/m, 'export lists the file the build copied');
  assert.deepEqual(await mountPoints(join(work, '.store')), [], 'nothing left mounted');
});
