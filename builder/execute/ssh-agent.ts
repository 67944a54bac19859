/**
 * SSH agents for `RUN --mount=type=ssh` and for git over SSH (`--ssh default|ID=SOCKET_OR_KEYS`, buildx's
 * sshprovider):
 *  - `default` (or any ID) without paths: the agent of `$SSH_AUTH_SOCK`; unset is an error naming the flag.
 *  - one path that is a socket: that agent.
 *  - key files: a private `ssh-agent` started for the build (its socket in a fresh 0700 temp dir), the keys
 *    added with `ssh-add` (a key with a passphrase fails: there is no terminal to ask); stopped by `close()`.
 * A RUN step never sees the agent's own socket: each ssh mount gets a proxy socket (`proxy()`), made in the
 * same temp dir with the mount's uid, gid and mode, whose connections are piped to the agent (BuildKit forwards
 * the agent the same way, so chmod/chown never touch the user's socket). Left behind after `close()`: nothing
 * (proxies closed, the private agent killed by its pid, the temp dir removed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsbuildError } from '../../layer-store/index.js';

/** An `--ssh` value: an id and its sockets or key files (none: `$SSH_AUTH_SOCK`). */
export interface SshSource {
  readonly id: string;
  readonly paths: readonly string[];
}

/** Parses `--ssh default|ID[=SOCKET|KEY[,KEY…]]` (buildx's ParseSSHSpecs). */
export function parseSshSpec(spec: string): SshSource {
  const i = spec.indexOf('=');
  const id = (i < 0 ? spec : spec.slice(0, i)).trim();
  if (id === '') throw new TsbuildError('USAGE', `invalid --ssh ${JSON.stringify(spec)}: no id`, { hint: 'write --ssh default, --ssh ID=SOCKET or --ssh ID=KEYFILE[,KEYFILE]' });
  const paths = i < 0 ? [] : spec.slice(i + 1).split(',').map((p) => p.trim()).filter(Boolean);
  return { id, paths };
}

/** How a proxy socket looks inside the step (the mount's `uid`, `gid`, `mode`). */
export interface ProxyOwner {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

const AGENT_START_MS = 10_000;

/** The build's SSH agents by id; see the header. */
export class SshAgents {
  readonly #sockets = new Map<string, string>();
  readonly #agents: ChildProcess[] = [];
  readonly #servers = new Set<Server>();
  #n = 0;

  private constructor(readonly dir: string) {}

  /**
   * Returns the agents of `sources`, started and checked: every id's socket exists or its keys are loaded.
   * Throws a USAGE error naming the `--ssh` value that cannot be honoured (after stopping what it started).
   */
  static async open(sources: readonly SshSource[], o: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<SshAgents> {
    const env = o.env ?? process.env;
    const a = new SshAgents(await mkdtemp(join(tmpdir(), 'tsbuild-ssh-')));
    try {
      for (const s of sources) {
        const flag = `--ssh ${s.id}${s.paths.length ? `=${s.paths.join(',')}` : ''}`;
        if (a.#sockets.has(s.id)) throw new TsbuildError('USAGE', `${flag}: id ${s.id} is given twice`, { hint: 'give each --ssh id once (several key files: ID=KEY1,KEY2)' });
        if (s.paths.length === 0) {
          const sock = env.SSH_AUTH_SOCK;
          if (!sock) throw new TsbuildError('USAGE', `${flag}: SSH_AUTH_SOCK is not set`, { hint: 'start an agent (eval $(ssh-agent); ssh-add) or pass key files: --ssh default=~/.ssh/id_ed25519' });
          await a.#checkSocket(sock, flag);
          a.#sockets.set(s.id, sock);
          continue;
        }
        const kinds = await Promise.all(s.paths.map(async (p) => ({ p, st: await stat(p).catch(() => undefined) })));
        const missing = kinds.find((k) => !k.st);
        if (missing) throw new TsbuildError('USAGE', `${flag}: ${missing.p}: no such file or socket`, { hint: 'pass an agent socket or private key files' });
        if (kinds.some((k) => k.st!.isSocket())) {
          if (kinds.length > 1) throw new TsbuildError('USAGE', `${flag}: a socket cannot be combined with other paths`, { hint: 'pass one agent socket, or only key files' });
          a.#sockets.set(s.id, s.paths[0]!);
          continue;
        }
        a.#sockets.set(s.id, await a.#privateAgent(s.paths, flag, o.signal));
      }
      return a;
    } catch (e) {
      await a.close();
      throw e;
    }
  }

  /** Returns the agent socket of `id` on the host, or undefined when no `--ssh` gave it. */
  socket(id: string): string | undefined {
    return this.#sockets.get(id);
  }

  /**
   * Returns a new proxy socket to the agent `id` (see the header), owned and moded as `owner` says, and its
   * closer. Connections to it are piped to the agent until either side ends.
   */
  async proxy(id: string, owner: ProxyOwner): Promise<{ path: string; close: () => Promise<void> }> {
    const target = this.#sockets.get(id);
    if (!target) throw new TsbuildError('BUILD', `no SSH agent with id ${id}`, { hint: `pass --ssh ${id}` });
    const path = join(this.dir, `p${this.#n++}.sock`);
    const conns = new Set<Socket>();
    const server = createServer((c) => {
      const up = connect(target);
      conns.add(c);
      conns.add(up);
      const end = (): void => { c.destroy(); up.destroy(); conns.delete(c); conns.delete(up); };
      c.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
      c.on('data', (d) => { if (!up.write(d)) c.pause(); });
      up.on('drain', () => c.resume());
      up.on('data', (d) => { if (!c.write(d)) up.pause(); });
      c.on('drain', () => up.resume());
    });
    this.#servers.add(server);
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, () => resolve()); });
    await chown(path, owner.uid, owner.gid);
    await chmod(path, owner.mode);
    const close = async (): Promise<void> => {
      if (!this.#servers.delete(server)) return;
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(path, { force: true });
    };
    return { path, close };
  }

  /** Stops every proxy and private agent and removes the temp dir; safe to call twice. */
  async close(): Promise<void> {
    for (const s of [...this.#servers]) {
      this.#servers.delete(s);
      s.close();
    }
    for (const p of this.#agents.splice(0)) {
      if (p.exitCode === null && p.signalCode === null) {
        const gone = new Promise<void>((r) => p.once('exit', () => r()));
        p.kill('SIGTERM');
        await Promise.race([gone, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async #checkSocket(sock: string, flag: string): Promise<void> {
    const st = await stat(sock).catch(() => undefined);
    if (!st?.isSocket()) throw new TsbuildError('USAGE', `${flag}: ${sock} is not an agent socket`, { hint: 'check SSH_AUTH_SOCK (is the agent running?)' });
  }

  /** Starts `ssh-agent -D -a SOCK` and adds `keys`; returns the socket. */
  async #privateAgent(keys: readonly string[], flag: string, signal?: AbortSignal): Promise<string> {
    const sock = join(this.dir, `agent${this.#agents.length}.sock`);
    const p = spawn('ssh-agent', ['-D', '-a', sock], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    this.#agents.push(p);
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const failed = new Promise<never>((_, reject) => {
      p.once('error', (e) => reject(new TsbuildError('USAGE', `${flag}: cannot start ssh-agent: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : e.message}`, { hint: 'install openssh-client, or pass a running agent\'s socket', cause: e })));
      p.once('exit', (code) => reject(new TsbuildError('USAGE', `${flag}: ssh-agent exited (${code}): ${stderr.trim()}`, { hint: 'pass a running agent\'s socket' })));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + AGENT_START_MS;
    while (!(await stat(sock).catch(() => undefined))?.isSocket()) {
      if (Date.now() > deadline) throw new TsbuildError('USAGE', `${flag}: ssh-agent did not start`, { hint: 'pass a running agent\'s socket' });
      await Promise.race([failed, new Promise((r) => setTimeout(r, 20))]);
    }
    // A session of its own (no terminal) and no askpass: a key with a passphrase fails instead of prompting.
    const add = spawn('ssh-add', ['-q', ...keys], { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SSH_AUTH_SOCK: sock, SSH_ASKPASS_REQUIRE: 'never' }, ...(signal ? { signal } : {}) });
    let addErr = '';
    add.stderr?.on('data', (d: Buffer) => { addErr += d.toString(); });
    const code = await new Promise<number | string>((resolve) => {
      add.once('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
      add.once('close', (c) => resolve(c ?? 'killed'));
    });
    if (code !== 0) {
      const line = addErr.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? `ssh-add: ${code}`;
      throw new TsbuildError('USAGE', `${flag}: cannot load the keys: ${line}`, { hint: 'pass unencrypted private key files, or an agent socket that holds the keys' });
    }
    return sock;
  }
}
