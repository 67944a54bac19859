/**
 * runc containers left by killed builds. A RUN step's container is tied to its build process (runtime-exec's
 * supervisor kills it when the build dies), but when the supervisor dies too (a SIGKILL of it as well, an OOM
 * kill) the container keeps running. runtime-exec names containers `tsbuild-<pid of the build>-<hex>` and records
 * the store root in the annotation `org.tsbuild.owner` (runc keeps annotations as `key=value` labels in its
 * state.json). A container of this root is left over when that pid is gone (or now belongs to a process started
 * after the container was created). Found by reading runc's state dir, without starting runc: every build checks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execFileAsync, type Logger, runcStateRoot } from '../core/index.js';
import { listMounts, ownerGone } from './scratch.js';

const run = execFileAsync;

/** runc's default state root when run as root (runtime-exec uses runc's default, core's runcStateRoot()). */
export const RUNC_STATE_ROOT = '/run/runc';
/** runtime-exec's OWNER_ANNOTATION (duplicated: layer-store imports no other module). */
const OWNER_LABEL = 'org.tsbuild.owner';
const ID = /^tsbuild-(\d+)-[0-9a-f]+$/;

export interface LeftoverContainer {
  /** The runc container id. */
  readonly id: string;
  /** The pid of the build that started it (gone). */
  readonly ownerPid: number;
  /** The container's init process (its pid-namespace init), 0 when unknown. */
  readonly initPid: number;
  /** The OCI bundle dir (its `rootfs` is the overlay mount of the step). */
  readonly bundle: string;
  /** The rootfs mount point (`<bundle>/rootfs`). */
  readonly rootfs: string;
}

interface RuncState {
  readonly init_process_pid?: number;
  readonly created?: string;
  readonly config?: { readonly labels?: readonly string[]; readonly rootfs?: string };
}

/**
 * Returns the containers in runc's state dir (`o.runcRoot`, default RUNC_STATE_ROOT) whose id is tsbuild's,
 * whose build process is gone, and that belong to the store `root`: their owner annotation names it, or (a
 * runtime made without an owner) their rootfs overlay has its upper dir below `root`.
 */
export async function findLeftoverContainers(root: string, o: { runcRoot?: string } = {}): Promise<LeftoverContainer[]> {
  const stateRoot = o.runcRoot ?? runcStateRoot();
  const storeRoot = resolve(root);
  // Synchronous: at every build's start, usually an empty or missing directory (procfs-like tmpfs of runc).
  let names: string[];
  try { names = readdirSync(stateRoot); } catch { names = []; }
  const out: LeftoverContainer[] = [];
  let mounts: Map<string, string> | undefined;
  for (const id of names) {
    const m = ID.exec(id);
    if (!m) continue;
    const ownerPid = Number(m[1]);
    let st: RuncState;
    try {
      st = JSON.parse(readFileSync(join(stateRoot, id, 'state.json'), 'utf8')) as RuncState;
    } catch {
      continue; // being created or deleted right now
    }
    const created = st.created ? Date.parse(st.created) : NaN;
    if (!ownerGone(ownerPid, Number.isFinite(created) ? created : 0)) continue;
    const labels = st.config?.labels ?? [];
    const label = (k: string): string | undefined => labels.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
    const bundle = label('bundle') ?? '';
    const rootfs = st.config?.rootfs ?? join(bundle, 'rootfs');
    const owner = label(OWNER_LABEL);
    let ours = owner !== undefined && resolve(owner) === storeRoot;
    if (owner === undefined) {
      mounts ??= new Map((await listMounts()).map((e) => [e.point, /(?:^|,)upperdir=([^,]+)/.exec(e.options)?.[1] ?? '']));
      ours = (mounts.get(rootfs) ?? '').startsWith(storeRoot + '/');
    }
    if (ours) out.push({ id, ownerPid, initPid: st.init_process_pid ?? 0, bundle, rootfs });
  }
  return out;
}

/**
 * Kills and deletes container `c` (`runc kill KILL`, then `runc delete --force`), unmounts its rootfs (lazily
 * when busy) and removes its bundle dir. Never throws; returns false when the container is still there after.
 */
export async function removeContainer(c: LeftoverContainer, o: { runc?: string; runcRoot?: string } = {}): Promise<boolean> {
  const runc = o.runc ?? 'runc';
  const rootArgs = o.runcRoot ? ['--root', o.runcRoot] : [];
  await run(runc, [...rootArgs, 'kill', c.id, 'KILL']).catch(() => undefined);
  await run(runc, [...rootArgs, 'delete', '--force', c.id]).catch(() => undefined);
  const gone = await readdir(join(o.runcRoot ?? runcStateRoot(), c.id)).then(() => false, () => true);
  const mounted = async (): Promise<boolean> => (await listMounts().catch(() => [])).some((m) => m.point === c.rootfs);
  if (await mounted()) await run('umount', [c.rootfs]).catch(() => run('umount', ['-l', c.rootfs]).catch(() => undefined));
  // Never removed through a mount that is still there: that would delete the step's files via the overlay.
  if (c.bundle && !(await mounted())) await rm(c.bundle, { recursive: true, force: true }).catch(() => undefined);
  return gone;
}

/** Removes every leftover container of the store `root` (findLeftoverContainers); logs each. Never throws. */
export async function reclaimLeftoverContainers(root: string, log: Logger): Promise<LeftoverContainer[]> {
  const found = await findLeftoverContainers(root).catch(() => [] as LeftoverContainer[]);
  for (const c of found) {
    const gone = await removeContainer(c);
    if (gone) log.warn('removed a container left by a killed build', { id: c.id, ownerPid: c.ownerPid });
    else log.warn('cannot remove a container left by a killed build', { id: c.id, hint: `runc delete --force ${c.id}` });
  }
  return found;
}

/** An fsck leftover finding (fsck.ts's FsckFinding, severity leftover). */
export interface ContainerFinding {
  readonly kind: 'leaked-container' | 'leaked-mount';
  readonly subject: string;
  readonly detail: string;
  readonly repaired?: string;
}

/**
 * Returns fsck's findings about leftover containers of `root` (each container, and its rootfs mount when
 * mounted), removing them with `repair`; `mounts` holds the rootfs mount points reported.
 */
export async function checkLeftoverContainers(root: string, repair: boolean): Promise<{ findings: ContainerFinding[]; mounts: Set<string> }> {
  const containers = await findLeftoverContainers(root);
  const mountedNow = new Set((await listMounts().catch(() => [])).map((m) => m.point));
  const findings: ContainerFinding[] = [];
  const mounts = new Set<string>();
  for (const c of containers) {
    const gone = repair ? await removeContainer(c) : false;
    findings.push({
      kind: 'leaked-container', subject: c.id,
      detail: `runc container (init pid ${c.initPid}) of build process ${c.ownerPid}, which is gone; bundle ${c.bundle}`,
      ...(repair ? { repaired: gone ? 'killed and deleted' : `not removed: run runc delete --force ${c.id}` } : {}),
    });
    if (mountedNow.has(c.rootfs)) {
      mounts.add(c.rootfs);
      findings.push({ kind: 'leaked-mount', subject: c.rootfs, detail: `rootfs of the leaked container ${c.id}`, ...(repair ? { repaired: 'unmounted' } : {}) });
    }
  }
  return { findings, mounts };
}
