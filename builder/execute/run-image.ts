import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Lease, TsbuildError, formatPlatform, hostPlatform, platformMatches, type LayerStore, type Platform } from '../../layer-store/index.js';
import { resolveUser, checkBinfmt, findInit, isNativePlatform, INIT_PATH, type Limits, type Mount, type NetworkMode, type Runtime, type SignalSource } from '../../runtime-exec/index.js';
import { DEFAULT_PATH } from '../plan/index.js';

export interface RunImageOptions {
  readonly store: LayerStore;
  readonly runtime: Runtime;
  readonly image: string;
  /** Replaces the image's Cmd (and, with `entrypoint`, its Entrypoint). */
  readonly cmd?: readonly string[] | undefined;
  readonly entrypoint?: readonly string[] | undefined;
  /** Extra `K=V` entries (override the image's Env). */
  readonly env?: readonly string[] | undefined;
  readonly workdir?: string | undefined;
  readonly user?: string | undefined;
  readonly network?: NetworkMode | undefined;
  /** `HOST:CTR[:ro]` volume specs. */
  readonly volumes?: readonly string[] | undefined;
  readonly platform?: Platform | undefined;
  /** Files of `K=V` lines (docker's --env-file: `#` comments and blank lines skipped, `K` alone from this environment when set there), before `env`. */
  readonly envFiles?: readonly string[] | undefined;
  /** The container id (docker's name syntax); default: a fresh one. */
  readonly name?: string | undefined;
  readonly hostname?: string | undefined;
  readonly readOnly?: boolean | undefined;
  /** More mounts (`--mount type=bind|tmpfs,…`), after the `volumes`. */
  readonly mounts?: readonly Mount[] | undefined;
  /** cgroup limits (`--memory`, `--cpus`, `--pids-limit`). */
  readonly limits?: Limits | undefined;
  /** `--cap-add` / `--cap-drop` (docker's names and `ALL`). */
  readonly capAdd?: readonly string[] | undefined;
  readonly capDrop?: readonly string[] | undefined;
  /** `-t`: a pseudo-terminal connected to this process's own terminal (then `stdout`/`stderr` are unused). */
  readonly tty?: boolean | undefined;
  /** `--init`: the host's static init (tini) runs as pid 1, reaps zombies and forwards signals to the command. */
  readonly init?: boolean | undefined;
  /** The process's stdin (`-i`); default: empty. */
  readonly stdin?: Readable | undefined;
  /** Signals to forward to the process (the CLI's SIGINT/SIGTERM); `signal` still kills it outright. */
  readonly signals?: SignalSource | undefined;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs an image from the store in a fresh container and returns the process's exit code. The container's
 * writable layer is always discarded (tsbuild keeps no containers), so `--rm` is the only behaviour.
 */
export async function runImage(o: RunImageOptions): Promise<number> {
  if (o.name !== undefined && !NAME.test(o.name)) {
    throw new TsbuildError('USAGE', `invalid container name ${JSON.stringify(o.name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { hint: 'start the name with a letter or digit, e.g. --name my-test_1' });
  }
  const fileEnv = (await Promise.all((o.envFiles ?? []).map(readEnvFile))).flat();
  const img = await o.store.image(o.image, { platform: o.platform ?? hostPlatform() });
  const platform = o.store.platformOf(img);
  if (o.platform && !platformMatches(o.platform, platform)) {
    // A single-platform image is what it is: as docker, a --platform it does not have is an error, not a silent run.
    throw new TsbuildError('USAGE', `image with reference ${o.image} was found but does not match the specified platform: wanted ${formatPlatform(o.platform)}, actual: ${formatPlatform(platform)}`, {
      location: { ref: o.image }, hint: `drop --platform, or build or pull the image for ${formatPlatform(o.platform)}`,
    });
  }
  if (!isNativePlatform(platform)) await checkBinfmt(platform);
  const c = img.config.config ?? {};
  const entry = o.entrypoint ?? c.Entrypoint ?? [];
  const cmd = o.cmd && o.cmd.length > 0 ? o.cmd : o.entrypoint ? [] : c.Cmd ?? [];
  const args = [...entry, ...cmd];
  if (args.length === 0) throw new TsbuildError('USAGE', `image ${o.image} has no command`, { location: { ref: o.image }, hint: 'give a command: tsbuild run IMAGE CMD…' });
  const env = new Map<string, string>();
  for (const e of [...(c.Env ?? []), ...fileEnv, ...(o.env ?? [])]) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? process.env[e] ?? '' : e.slice(i + 1));
  }
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  const mounts: Mount[] = (o.volumes ?? []).map((v) => {
    const [host, ctr, mode] = v.split(':');
    if (!host || !ctr || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
      throw new TsbuildError('USAGE', `invalid volume ${JSON.stringify(v)}`, { hint: 'write -v HOST_PATH:CONTAINER_PATH[:ro]' });
    }
    return { type: 'bind', source: resolve(host), target: ctr, readonly: mode === 'ro' };
  });
  const missing = missingVolumeSources(o.volumes ?? []);
  if (o.init) {
    // As dockerd: the init is bind-mounted read-only and runs the command after `--`.
    mounts.push({ type: 'bind', source: await findInit(), target: INIT_PATH, readonly: true });
    args.unshift(INIT_PATH, '--');
  }
  mounts.push(...(o.mounts ?? []));
  // Leased, so that neither a prune nor an edit rebuild taking a snapshot (LayerStore.takeSnapshot) removes one
  // while it is mounted; released when the container is gone.
  const lease = await Lease.acquire(o.store.root, o.signal ? { signal: o.signal } : {});
  let lower: string[];
  let user: Awaited<ReturnType<typeof resolveUser>>;
  try {
    await lease.add({ snapshots: img.config.rootfs.diff_ids });
    lower = (await Promise.all(img.manifest.layers.map((d, i) => o.store.snapshot(img.config.rootfs.diff_ids[i]!, { layer: d })))).reverse();
    user = await resolveUser(lower, o.user ?? c.User ?? '');
    // As dockerd for -v (not --mount): a missing host directory is created, 0755, owned by whoever runs this.
    for (const d of missing) await mkdir(d, { recursive: true, mode: 0o755 });
  } catch (e) {
    await lease.release();
    throw e;
  }
  const dir = o.store.layout.scratchPath('run', randomUUID());
  await mkdir(join(dir, 'upper'), { recursive: true });
  await mkdir(join(dir, 'work'), { recursive: true });
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await o.runtime.run({
      rootfs: { lower, upper: join(dir, 'upper'), work: join(dir, 'work') },
      args, env: [...env].map(([k, v]) => `${k}=${v}`), cwd: o.workdir ?? (c.WorkingDir || '/'), user,
      network: o.network ?? 'default', mounts, platform,
      ...(o.name !== undefined ? { id: o.name } : {}),
      ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
      ...(o.readOnly ? { readonlyRootfs: true } : {}),
      ...(o.limits ? { limits: o.limits } : {}),
      ...(o.capAdd?.length ? { capAdd: o.capAdd } : {}),
      ...(o.capDrop?.length ? { capDrop: o.capDrop } : {}),
      ...(o.tty ? { terminal: true, ...terminalSize() } : {}),
    }, { stdout: o.stdout, stderr: o.stderr, ...(o.stdin ? { stdin: o.stdin } : {}), ...(o.signals ? { signals: o.signals } : {}) }, ac.signal);
    return r.exitCode;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await rm(dir, { recursive: true, force: true });
    await lease.release();
  }
}

/**
 * Returns the host paths of `-v HOST:CTR` specs that do not exist, to create before the run (dockerd creates a
 * missing bind source of `-v`). A bare name (`-v data:/x`) is a named volume to docker: missing, it is refused.
 */
function missingVolumeSources(volumes: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of volumes) {
    const host = v.split(':')[0]!;
    const abs = resolve(host);
    if (existsSync(abs)) continue;
    if (!host.startsWith('/') && !host.startsWith('.')) {
      throw new TsbuildError('USAGE', `invalid volume ${JSON.stringify(v)}: ${host} is a named volume to docker, and named volumes need a daemon that keeps them`, {
        hint: `write a path (-v ./${host}:…  or an absolute one), which is created when missing`,
      });
    }
    out.push(abs);
  }
  return out;
}

/** The size of whichever of our stdio streams is a terminal (the process starts with it, as docker's consoleSize). */
function terminalSize(): { consoleSize?: { rows: number; columns: number } } {
  for (const s of [process.stdout, process.stderr]) {
    if (s.isTTY && s.rows > 0 && s.columns > 0) return { consoleSize: { rows: s.rows, columns: s.columns } };
  }
  return {};
}

/** Docker's container name syntax (daemon/names: RestrictedNamePattern). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Reads a docker --env-file: `K=V` lines, `K` alone taken from this environment, `#` comments and blank lines skipped. */
async function readEnvFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TsbuildError('USAGE', `cannot read --env-file ${path}: ${(e as Error).message}`, { hint: 'give the path of a file of K=V lines' });
  }
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '').replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) return;
    const k = line.split('=')[0]!;
    if (k === '' || /\s/.test(k)) {
      throw new TsbuildError('USAGE', `invalid variable ${JSON.stringify(k)} in --env-file`, { location: { file: path, line: i + 1 }, hint: 'write one K=V per line' });
    }
    if (line.includes('=')) out.push(line);
    else if (process.env[k] !== undefined) out.push(`${k}=${process.env[k]}`); // unset: left out, as docker does
  });
  return out;
}
