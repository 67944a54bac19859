import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** What the token auth mode needs from a token server (see token-server.ts). */
export interface TokenAuthConfig { readonly realm: string; readonly service: string; readonly issuer: string; readonly certFile: string }

export type RegistryAuthMode =
  | { readonly mode: 'anonymous' }
  | { readonly mode: 'htpasswd'; readonly users: Readonly<Record<string, string>> }
  | { readonly mode: 'token'; readonly token: TokenAuthConfig };

export interface RegistryHandle {
  /** `127.0.0.1:PORT`, usable as a registry name in references. */
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** Pid of the watchdog shell that owns the registry process. */
  readonly pid: number;
  /** Everything distribution logged so far. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts CNCF distribution (`docker-registry serve`) on 127.0.0.1 with a free port, its own config and
 * storage in a temp dir, delete enabled. The port is read from its "listening on" log line.
 * stop() kills it by pid and removes the temp dir.
 */
export async function startRegistry(auth: RegistryAuthMode = { mode: 'anonymous' }, o: { tls?: { readonly cert: string; readonly key: string } } = {}): Promise<RegistryHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-registry-'));
  let authYaml = '';
  if (auth.mode === 'htpasswd') {
    const lines = Object.entries(auth.users).map(([u, p]) => execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim());
    await writeFile(join(dir, 'htpasswd'), lines.join('\n') + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.mode === 'token') {
    const t = auth.token;
    authYaml = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.certFile}\n`;
  }
  const config = `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:0
  secret: ${randomBytes(16).toString('hex')}
${o.tls ? `  tls:\n    certificate: ${o.tls.cert}\n    key: ${o.tls.key}\n` : ''}${authYaml}`;
  await writeFile(join(dir, 'config.yml'), config);
  // A shell watchdog owns the registry: when our end of its stdin closes (stop(), or this process dying
  // without cleanup), it kills the registry and removes the temp dir, so a crashed test leaves nothing behind.
  const script = 'docker-registry serve "$1" & r=$!; exec >/dev/null 2>&1; trap \'kill $r 2>/dev/null\' TERM; read _; kill $r 2>/dev/null; wait $r; rm -rf "$2"';
  const child: ChildProcess = spawn('sh', ['-c', script, 'sh', join(dir, 'config.yml'), dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  const onData = (d: Buffer) => { log += d.toString('utf8'); };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.stdin!.end();
      const timer = setTimeout(() => { if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL'); }, 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`registry did not start in 10 s; log:\n${log}`)), 10_000);
      const check = () => {
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
        if (m) { clearTimeout(deadline); resolve(Number(m[1])); }
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', (code) => { clearTimeout(deadline); reject(new Error(`registry exited with ${code}; log:\n${log}`)); });
    });
    return { host: `127.0.0.1:${port}`, port, dir, pid: child.pid!, log: () => log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
