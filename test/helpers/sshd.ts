/**
 * A real `sshd` (openssh-server) on a loopback port with a generated host key, a test user key that may log in as
 * root, and a real `ssh-agent` holding that key; plus an image with ssh, ssh-add and git copied from the host
 * (with the libraries `ldd` names) over busybox, for RUN steps that use the forwarded agent. Each `close()` /
 * `cleanup()` stops its process and removes its temp dir.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { importRootfs, type LayerStore } from '../../layer-store/index.js';
import { freePort } from './git-server.js';

const run = promisify(execFile);

/** Stops `p` (SIGTERM, then waits for it). */
async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

async function waitFor(check: () => Promise<boolean>, what: string, p: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`${what} did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

export interface Sshd {
  readonly port: number;
  /** The private key that may log in as root (no passphrase). */
  readonly userKey: string;
  /** `ssh -o …` options that trust this server without a known_hosts file. */
  readonly dir: string;
  close(): Promise<void>;
}

/** Starts sshd on 127.0.0.1:<free port>, root login with the generated user key only. */
export async function startSshd(): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-sshd-'));
  try {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'host', '-f', join(dir, 'host_key')]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsbuild-test-user', '-f', join(dir, 'user_key')]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')), { mode: 0o600 });
    const port = await freePort();
    await writeFile(join(dir, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes', 'PermitRootLogin prohibit-password', 'StrictModes no', 'UsePAM no', 'LogLevel ERROR', '',
    ].join('\n'));
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation dir
    const p = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    p.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
    await waitFor(() => new Promise((r) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    }), 'sshd', p, () => log);
    return { port, userKey: join(dir, 'user_key'), dir, close: async () => { await stop(p); await rm(dir, { recursive: true, force: true }); } };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface Agent {
  readonly socket: string;
  close(): Promise<void>;
}

/** Starts a real `ssh-agent` in the foreground on a fresh socket and adds `keys` with `ssh-add`. */
export async function startAgent(keys: readonly string[]): Promise<Agent> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-agent-'));
  const socket = join(dir, 'agent.sock');
  const p = spawn('ssh-agent', ['-D', '-a', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  try {
    await waitFor(async () => (await stat(socket).catch(() => undefined))?.isSocket() ?? false, 'ssh-agent', p, () => log);
    if (keys.length) await run('ssh-add', ['-q', ...keys], { env: { PATH: process.env.PATH ?? '', SSH_AUTH_SOCK: socket } });
  } catch (e) {
    await stop(p);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return { socket, close: async () => { await stop(p); await rm(dir, { recursive: true, force: true }); } };
}

/** Lists the keys of the agent at `socket` as `ssh-add -l` prints them. */
export async function agentKeys(socket: string): Promise<string> {
  const { stdout } = await run('ssh-add', ['-l'], { env: { PATH: process.env.PATH ?? '', SSH_AUTH_SOCK: socket } });
  return stdout;
}

/**
 * Imports `name` into `store`: the busybox root filesystem `busyboxDir` plus the host's ssh, ssh-add and git (and
 * every library `ldd` lists for them), so a RUN step can use a forwarded agent and clone over ssh.
 */
export async function importSshToolsImage(store: LayerStore, busyboxDir: string, name: string): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-sshtools-'));
  try {
    const root = join(base, 'rootfs');
    await cp(busyboxDir, root, { recursive: true, verbatimSymlinks: true });
    const bins = ['/usr/bin/ssh', '/usr/bin/ssh-add', '/usr/bin/git'];
    const files = new Set<string>(bins);
    for (const b of bins) {
      const { stdout } = await run('ldd', [b]);
      for (const m of stdout.matchAll(/(\/\S+) \(0x/g)) files.add(m[1]!);
    }
    for (const f of files) {
      await mkdir(join(root, dirname(f)), { recursive: true });
      await cp(f, join(root, f), { dereference: true });
    }
    await mkdir(join(root, 'usr/lib/git-core'), { recursive: true });
    await cp('/usr/bin/git', join(root, 'usr/lib/git-core/git'));
    await mkdir(join(root, 'root'), { recursive: true });
    const tar = join(base, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
    await importRootfs(store, tar, name, { created: '1970-01-01T00:00:00.000Z' });
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
