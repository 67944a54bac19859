/**
 * Rootless mode: a user other than root runs every command inside a user namespace of its own, mapped with its
 * subordinate ids (/etc/subuid, /etc/subgid) through the setuid newuidmap/newgidmap, as Podman does: the user
 * is uid 0, and every range of the user's, in file order, follows from uid 1 on (idMap). The command is run again
 * there (`unshare --user --mount`, then newuidmap/newgidmap from out here before it goes on), where it is uid 0
 * over the user's files: overlay mounts (`userxattr`), runc and chown work, files of other owners keep
 * the image's uids (stored on disk as subordinate ids), and the mount namespace takes every mount with it when
 * the command ends. Prerequisites are checked first, and a missing one is one error line with the fix.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants, tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { TsbuildError } from '../layer-store/core/index.js';
import { defaultRoot } from './context.js';

/** The fd on which the re-run command watches its parent (EOF: the parent died, so stop as on SIGTERM). */
const LIFELINE_FD = 3;
const LIFELINE_ENV = 'TSBUILD_ROOTLESS_LIFELINE';
/** Set by bin/tsbuild when it ran unshare itself: the pid of the launcher shell the command is to outlive no more. */
const PARENT_ENV = 'TSBUILD_ROOTLESS_PARENT';
/** How often the command started by bin/tsbuild looks whether its parent shell is still there (ms). */
const PARENT_POLL_MS = 500;
/** The example range in the fix for a user without subordinate ids (Podman's documentation uses it too). */
const EXAMPLE_RANGE = '100000-165535';
/** How long a failed unshare's message is waited for after it exited (ms). */
const UNSHARE_MESSAGE_WAIT_MS = 50;
/** The fd on which the re-run command waits for `go`: its namespace is mapped. */
const GO_FD = 5;
/** The re-run command's status when it was told nothing on GO_FD (the namespace could not be mapped). */
const NOT_MAPPED_STATUS = 125;
/** How long unshare may take to enter its user namespace (ms). */
const MAP_WAIT_MS = 5_000;

/** Returns `name`'s path on PATH, or undefined. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const d of (env['PATH'] ?? '').split(delimiter)) {
    if (!d) continue;
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      // next
    }
  }
  return undefined;
}

function readSysctl(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** One line of /etc/subuid or /etc/subgid: `count` ids from `start`. */
export interface IdRange { readonly start: number; readonly count: number }

/**
 * Returns the ranges /etc/subuid or /etc/subgid (`file`) gives `user` (its name or uid), in file order, each once
 * (bin/tsbuild's map_args reads them by the same rule).
 */
export function subordinateRanges(file: string, user: { name: string; uid: number }): IdRange[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: IdRange[] = [];
  for (const l of text.split('\n')) {
    const [who, start, count] = l.trim().split(':');
    if (who !== user.name && who !== String(user.uid)) continue;
    if (!/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '') || Number(count) === 0) continue;
    if (out.some((r) => r.start === Number(start) && r.count === Number(count))) continue;
    out.push({ start: Number(start), count: Number(count) });
  }
  return out;
}

function hasRange(file: string, user: { name: string; uid: number }): boolean {
  return subordinateRanges(file, user).length > 0;
}

/**
 * The arguments of newuidmap/newgidmap after the pid (`inner outer count` triples): `own` (the user's uid or
 * gid) is 0, and the ranges follow one another from 1 on.
 */
export function idMap(own: number, ranges: readonly IdRange[]): string[] {
  const out = ['0', String(own), '1'];
  let inner = 1;
  for (const r of ranges) {
    out.push(String(inner), String(r.start), String(r.count));
    inner += r.count;
  }
  return out;
}

/** What rootless mode needs and is missing here: each item says what and how to fix it. */
export function missingPrerequisites(user: { name: string; uid: number }, env: NodeJS.ProcessEnv = process.env): { what: string; fix: string }[] {
  const out: { what: string; fix: string }[] = [];
  if (readSysctl('/proc/sys/user/max_user_namespaces') === 0) {
    out.push({ what: 'user namespaces are disabled (user.max_user_namespaces is 0)', fix: 'as root: sysctl -w user.max_user_namespaces=15000' });
  }
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === 0) {
    out.push({ what: 'unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone is 0)', fix: 'as root: sysctl -w kernel.unprivileged_userns_clone=1' });
  }
  const tools = ['newuidmap', 'newgidmap'].filter((t) => !onPath(t, env));
  if (tools.length > 0) out.push({ what: `${tools.join(' and ')} not found on PATH`, fix: 'as root: apt-get install -y uidmap' });
  if (!onPath('unshare', env)) out.push({ what: 'unshare not found on PATH', fix: 'as root: apt-get install -y util-linux' });
  const ids = [['uid', '/etc/subuid'], ['gid', '/etc/subgid']].filter(([, f]) => !hasRange(f!, user)).map(([k]) => k);
  if (ids.length > 0) {
    out.push({
      what: `no subordinate ${ids.join(' and ')} range for user ${user.name} in ${ids.map((k) => `/etc/sub${k}`).join(' and ')}`,
      fix: `as root: usermod --add-subuids ${EXAMPLE_RANGE} --add-subgids ${EXAMPLE_RANGE} ${user.name}`,
    });
  }
  return out;
}

/** Whether the command needs no namespace: help and version, and `--isolation chroot` (its own mode). */
function needsNoNamespace(args: readonly string[]): boolean {
  if (args.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '--isolation=chroot')) return true;
  return args.some((a, i) => a === '--isolation' && args[i + 1] === 'chroot');
}

/**
 * Returns runc's state dir parent for the re-run command: $XDG_RUNTIME_DIR when set and ours, else
 * `<tmp>/tsbuild-xdg-<uid>` (made 0700 here; refused when another user owns it).
 */
function runtimeDir(uid: number, env: NodeJS.ProcessEnv): string {
  const given = env['XDG_RUNTIME_DIR'];
  if (given) {
    try {
      if (lstatSync(given).uid === uid) return given;
    } catch {
      // fall through
    }
  }
  const dir = join(tmpdir(), `tsbuild-xdg-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new TsbuildError('RUNTIME_MISSING', `${dir} belongs to another user`, { hint: 'set XDG_RUNTIME_DIR to a directory of your own' });
  }
  return dir;
}

/**
 * Runs this command again inside a user namespace when the user is not root, and returns its exit status;
 * undefined when the command is to run here (root, in the namespace already, or a command that needs none).
 * In the re-run command, starts watching the parent. Throws a TsbuildError, before any work, naming every
 * missing prerequisite and its fix.
 */
export async function enterRootless(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  if (uid === 0) {
    if (env[LIFELINE_ENV] === String(LIFELINE_FD)) watchParent();
    else if (env[PARENT_ENV]) watchParentPid(Number(env[PARENT_ENV]));
    return undefined;
  }
  if (needsNoNamespace(args)) return undefined;
  const user = { name: userInfo().username, uid };
  const missing = missingPrerequisites(user, env);
  if (missing.length > 0) {
    throw new TsbuildError('RUNTIME_MISSING', `rootless mode (uid ${uid}) needs what is missing here: ${missing.map((m) => m.what).join('; ')}`, {
      hint: missing.map((m) => m.fix).join('; '),
    });
  }
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    // Computed out here: inside, the command is uid 0 and would take root's default store.
    TSBUILD_ROOT: defaultRoot(env),
    // runc in a user namespace keeps its state in $XDG_RUNTIME_DIR/runc when $USER is not root (runc's rule).
    USER: user.name,
    XDG_RUNTIME_DIR: runtimeDir(uid, env),
    [LIFELINE_ENV]: String(LIFELINE_FD),
  };
  // unshare's own messages go to a pipe, so that a failure to make the namespace is one line of ours; the command
  // itself gets this process's stderr back as fd 2 (from fd 4) through one `sh` exec, once this process has
  // mapped the namespace and said so on fd 5.
  const child = spawn(onPath('unshare', env)!, [
    '--user', '--mount', '--propagation', 'private', '--',
    '/bin/sh', '-c', `read -r go <&${GO_FD} && [ "$go" = go ] || exit ${NOT_MAPPED_STATUS}; exec ${GO_FD}<&- 2>&4 4>&-; exec "$@"`,
    'sh', process.execPath, ...process.execArgv, process.argv[1]!, ...args,
  ], { env: childEnv, stdio: ['inherit', 'inherit', 'pipe', 'pipe', 2, 'pipe'] });
  // Ctrl-C reaches the whole foreground process group, the re-run command included: not forwarded (it would
  // count as a second interrupt). SIGTERM and SIGHUP sent to this process alone are passed on.
  const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGHUP', forward('SIGHUP'));
  let started = false;
  let exited = false;
  let unshareErr = '';
  let mapError: TsbuildError | undefined;
  const lifeline = child.stdio[LIFELINE_FD] as Socket;
  lifeline.once('data', () => { started = true; });
  lifeline.on('error', () => undefined);
  const go = (child.stdio as unknown as (Socket | null)[])[GO_FD] as Socket;
  go.on('error', () => undefined);
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { unshareErr += d; });
  const gid = process.getgid?.() ?? uid;
  void mapNamespace(child.pid, user, gid, () => exited).then(() => { go.end('go\n'); }, (e: TsbuildError) => {
    mapError = e;
    go.destroy(); // the command reads end-of-file and stops before it starts
  });
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new TsbuildError('RUNTIME_MISSING', `cannot start unshare: ${e.message}`, { cause: e, hint: 'apt-get install -y util-linux' })));
    child.once('exit', (code, sig) => {
      exited = true;
      lifeline.destroy();
      go.destroy();
      if (!started && code !== 0) {
        // unshare's message may still be in the pipe: read what is there, briefly.
        setTimeout(() => {
          child.stderr!.destroy();
          reject(mapError ?? namespaceFailed(unshareErr, user.name));
        }, UNSHARE_MESSAGE_WAIT_MS);
        return;
      }
      child.stderr!.destroy();
      resolve(code ?? 128 + (sig ? osConstants.signals[sig] : 0));
    });
  });
}

/**
 * Once process `pid` (unshare) is in its new user namespace, writes its uid and gid maps with newuidmap and
 * newgidmap (idMap of the user's ranges). Rejects with one error line, with newuidmap's message and the fix,
 * when they fail; resolves without mapping when the process is gone first (`gone`), whose failure is reported
 * as unshare's.
 */
async function mapNamespace(pid: number | undefined, user: { name: string; uid: number }, gid: number, gone: () => boolean): Promise<void> {
  if (pid === undefined) return;
  const deadline = Date.now() + MAP_WAIT_MS;
  // Its uid_map reads "0 0 4294967295" while it is in this namespace, nothing once it is in its own (unmapped).
  for (;;) {
    if (gone()) return;
    let map: string;
    try {
      map = readFileSync(`/proc/${pid}/uid_map`, 'utf8');
    } catch {
      return; // gone
    }
    if (map.trim() === '') break;
    if (Date.now() > deadline) throw new TsbuildError('RUNTIME_MISSING', `unshare did not make a user namespace within ${MAP_WAIT_MS / 1000} s`, { hint: 'check that `unshare --user true` works for this user' });
    await new Promise((r) => setTimeout(r, 1));
  }
  const maps: [string, string, string[]][] = [
    ['newuidmap', '/etc/subuid', idMap(user.uid, subordinateRanges('/etc/subuid', user))],
    ['newgidmap', '/etc/subgid', idMap(gid, subordinateRanges('/etc/subgid', user))],
  ];
  await Promise.all(maps.map(([tool, file, m]) => new Promise<void>((resolve, reject) => {
    execFile(tool, [String(pid), ...m], (err, _out, stderr) => {
      if (!err) { resolve(); return; }
      if (gone()) { resolve(); return; }
      const msg = String(stderr).split('\n').map((l) => l.trim()).filter(Boolean).join('; ') || err.message;
      reject(new TsbuildError('RUNTIME_MISSING', `cannot map the user namespace for rootless mode: ${tool} ${m.join(' ')}: ${msg}`, {
        hint: `as root: check the ranges of ${user.name} in ${file} (no overlaps, at most 339 lines; e.g. usermod --add-subuids ${EXAMPLE_RANGE} --add-subgids ${EXAMPLE_RANGE} ${user.name}) and that ${tool} is setuid root (apt-get install --reinstall uidmap)`,
      }));
    });
  })));
}

/** The error for an unshare that could not make the namespace (its message, and what usually causes it). */
function namespaceFailed(stderr: string, user: string): TsbuildError {
  const msg = stderr.split('\n').map((l) => l.trim()).filter(Boolean).join('; ') || 'unshare failed';
  const full = /No space left on device/.test(msg);
  return new TsbuildError('RUNTIME_MISSING', `cannot create a user namespace for rootless mode: ${msg}`, {
    hint: full
      ? 'user namespaces are disabled or used up here (user.max_user_namespaces); as root: sysctl -w user.max_user_namespaces=15000'
      : `as root: check sysctl user.max_user_namespaces (> 0) and kernel.unprivileged_userns_clone (1), and the ranges of ${user} in /etc/subuid and /etc/subgid (usermod --add-subuids ${EXAMPLE_RANGE} --add-subgids ${EXAMPLE_RANGE} ${user})`,
  });
}

/**
 * In the re-run command: tells the parent it started, and when the parent (the user's tsbuild) dies, even by
 * SIGKILL, stops as on SIGTERM.
 */
function watchParent(): void {
  delete process.env[LIFELINE_ENV];
  try {
    const s = new Socket({ fd: LIFELINE_FD, readable: true, writable: true });
    s.on('error', () => undefined);
    s.write('R'); // started: the namespace exists
    s.on('close', () => { process.kill(process.pid, 'SIGTERM'); });
    s.resume();
    s.unref();
  } catch {
    // no such fd: started by hand with the variable set; nothing to watch
  }
}

/** The parent pid of this process now, from /proc (Node's process.ppid is read once, at start). */
function currentPpid(): number | undefined {
  try {
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * In a command started by bin/tsbuild's rootless fast path (the launcher shell ran unshare and waits): when
 * that shell dies (SIGTERM or SIGKILL sent to it alone), stops as on SIGTERM, as watchParent does.
 */
function watchParentPid(parent: number): void {
  delete process.env[PARENT_ENV];
  if (!Number.isInteger(parent) || parent <= 1 || currentPpid() !== parent) return;
  const timer = setInterval(() => {
    if (currentPpid() === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_POLL_MS);
  timer.unref();
}
