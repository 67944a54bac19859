/**
 * A parent-death tie for `runc run`: nothing of a step may outlive the tsbuild process, even one killed with
 * SIGKILL (no JavaScript runs then).
 *
 * PDEATHSIG does not do it: set on `runc run` it reaches runc only, not the container's init (runc's spec has no
 * such setting), and Node cannot set it on a child anyway. So `runc run` is started by a tiny supervisor, a
 * `/bin/sh` in a session of its own (a signal to tsbuild's process group does not reach it), that holds the
 * read end of a pipe whose only write end is in this process (its stdin; Node's pipe fds are close-on-exec,
 * so no other child holds it). A watcher subshell blocks reading that pipe. The read returns end-of-file only
 * when this process closes the pipe or dies; the watcher then sends `runc kill <id> KILL` until `runc run`
 * has exited (the container's pid-namespace init dies, so every process of the step dies with it, and
 * `runc run` deletes the container), then `runc delete --force <id>`, detaches the bundle's rootfs overlay
 * (`umount -l`) and removes the bundle dir, which no one else would (the bundle is outside the store). The tie
 * ends only when tsbuild is gone: tsbuild closes it only after the supervisor has exited (an abort kills the
 * container with `runc kill` instead). When `runc run` ends first, the supervisor stops the watcher, unless the
 * watcher has seen the tie end (it leaves `tie-closed` in the bundle first): then it waits for that cleanup,
 * and exits with runc's status. (Whether tsbuild's pid is still there is no test: a killed Node process stays
 * the parent while its threads exit, and an unreaped zombie for a while where init reaps late; the cleanup was
 * skipped then.) The upper/work scratch dirs of a killed build stay below the store
 * for the next build or `tsbuild fsck --repair` to reclaim (layer-store/store/scratch.ts).
 *
 * Cost: one small shell and one subshell per RUN step, beside runc's own processes.
 *
 * A build's steps use the other tie (tiedCleanupScript): the build's helper shell (commands.ts ShellRunner), a
 * shell in a session of its own whose stdin pipe has its only write end in this process, runs the same cleanup
 * from a script registered for the step when that pipe ends, and `runc run` is one of its commands
 * (start-runc.ts; spawned directly by tiedRunc when the shell cannot take it). `tsbuild run` (stdin, a
 * terminal) and runs without a helper shell keep the supervisor. Figures: runtime-exec/README.md.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shQuote } from './commands.js';

/** `$0` of the supervisor shell: how `ps` (and the tests) tell it apart. */
export const SUPERVISOR_NAME = 'tsbuild-runc-supervisor';

// $1 container id, $2 runc --root ('' for runc's default), $3 runc binary, $4 the bundle (its rootfs is tsbuild's
// overlay mount), $5 1 when fd 4 is the container's stdin (else it reads /dev/null), then the arguments of `runc run`.
const SCRIPT = `id=$1 root=$2 runc=$3 bundle=$4 in=$5
shift 5
rc() { if [ -n "$root" ]; then "$runc" --root "$root" "$@"; else "$runc" "$@"; fi; }
exec 3<&0 </dev/null
if [ "$in" = 1 ]; then rc "$@" 3<&- <&4 4<&- & else rc "$@" 3<&- & fi
r=$!
[ "$in" = 1 ] && exec 4<&-
{
  read -r _ <&3
  : > "$bundle/tie-closed"
  while kill -0 "$r"; do rc kill "$id" KILL; sleep 0.1; done
  rc delete --force "$id"
  umount -l "$bundle/rootfs"
  grep -qF " $bundle/rootfs " /proc/self/mountinfo || rm -rf "$bundle"
} >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$r"
c=$?
if [ -e "$bundle/tie-closed" ]; then wait "$w"; else kill "$w" 2>/dev/null; fi
exit "$c"`;

/**
 * The environment of `runc run`: this process's, with GOMAXPROCS=1. runc's Go runtime then starts one P instead of
 * one per core, for a process that mostly waits (runc init sets GOMAXPROCS=1 itself, and runc passes the variable
 * on to it); the container's own environment is the spec's, untouched. 1.4 ms less CPU a `runc run` on the 2-core
 * benchmark machine (20 runs of a `runc spec` bundle, medians of 5), wall time the same.
 */
export function runcEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOMAXPROCS: '1' };
}

export interface SupervisedRunc {
  /** The supervisor shell: its exit status is that of `runc run` (128+N when runc was killed by signal N). */
  readonly child: ChildProcess;
  /** SIGKILLs the supervisor's process group: the shell, its watcher and `runc run` (the container is not in it). */
  killGroup(): void;
  /** Sends `sig` to that group: SIGWINCH reaches `runc run` (which resizes the container's terminal); the shells ignore it. */
  signalGroup(sig: NodeJS.Signals): void;
}

/**
 * Starts `runc [--root root] <runArgs>` (a `run … <id>` of `bundle`) under the supervisor; its stdout and stderr are the
 * child's, and with `stdin` its stdin is the child's fd 4 (`child.stdio[4]`, a pipe to write to). The tie holds while the returned child's stdin stays open: never end it before the child has exited.
 */
export function superviseRunc(o: { runc: string; root?: string | undefined; id: string; bundle: string; runArgs: readonly string[]; stdin?: boolean; terminal?: boolean }): SupervisedRunc {
  // With `terminal` (a container pseudo-terminal that runc connects to a terminal of ours), runc gets this
  // process's own stdout and stderr, and its stdin (fd 0, as the child's fd 4) when `stdin` is set.
  const stdio: StdioOptions = o.terminal
    ? ['pipe', 'inherit', 'inherit', 'ignore', o.stdin ? 0 : 'ignore']
    : o.stdin ? ['pipe', 'pipe', 'pipe', 'ignore', 'pipe'] : ['pipe', 'pipe', 'pipe'];
  const child = spawn('/bin/sh', ['-c', SCRIPT, SUPERVISOR_NAME, o.id, o.root ?? '', o.runc, o.bundle, o.stdin ? '1' : '0', ...o.runArgs], {
    stdio,
    detached: true,
    env: runcEnv(),
  });
  // The watcher never writes back; an EPIPE on the tie (the shell gone) is not this process's error.
  child.stdin?.on('error', () => undefined);
  return {
    child,
    signalGroup: (sig) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    },
    killGroup: () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** The file in a tied run's bundle that holds the pid of its `runc run` (tiedRunc). */
export const RUNC_PID_FILE = 'runc.pid';

/**
 * Returns the exit script (ShellRunner.tieOnExit) of a run tied to the build's helper shell instead of a supervisor
 * of its own: when the build process is gone, it sends `runc kill <id> KILL` until `runc run` has exited, then
 * `runc delete --force <id>`, detaches the bundle's rootfs overlay (`umount -l`) and removes the bundle dir, as
 * the supervisor's watcher does. It is registered as soon as the bundle exists, so it covers the overlay mount
 * before runc starts too. `runc run`'s pid is in the bundle's runc.pid once spawned; without it (this process
 * killed between the spawn and that write, or before the spawn), the script looks for a runc process whose
 * command line names the container (one grep over /proc).
 */
export function tiedCleanupScript(o: { runc: string; root?: string | undefined; id: string; bundle: string }): string {
  return `id=${shQuote(o.id)} root=${shQuote(o.root ?? '')} runc=${shQuote(o.runc)} bundle=${shQuote(o.bundle)}
rc() { if [ -n "$root" ]; then "$runc" --root "$root" "$@"; else "$runc" "$@"; fi; }
r=$(cat "$bundle/${RUNC_PID_FILE}" 2>/dev/null)
if [ -z "$r" ]; then
  for f in $(grep -lF -e "$id" /proc/[0-9]*/cmdline 2>/dev/null); do
    p=\${f#/proc/}; p=\${p%/cmdline}
    [ "/proc/$p/exe" -ef "$runc" ] && r="$r $p"
  done
fi
live() { for p in $r; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while live; do rc kill "$id" KILL; sleep 0.1; done
rc delete --force "$id"
umount -l "$bundle/rootfs"
grep -qF " $bundle/rootfs " /proc/self/mountinfo || rm -rf "$bundle"`;
}

/**
 * Starts `runc [--root root] <runArgs>` directly, in a session of its own, for a run whose tie is the build's
 * helper shell (tiedCleanupScript registered with ShellRunner.tieOnExit): no supervisor shell and no watcher
 * subshell per step. stdin is /dev/null; stdout and stderr are the child's pipes. Its pid goes to the bundle's
 * runc.pid for the exit script.
 */
export function tiedRunc(o: { runc: string; root?: string | undefined; bundle: string; runArgs: readonly string[] }): SupervisedRunc {
  const child = spawn(o.runc, o.root ? ['--root', o.root, ...o.runArgs] : [...o.runArgs], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: runcEnv() });
  if (child.pid !== undefined) {
    try {
      writeFileSync(join(o.bundle, RUNC_PID_FILE), String(child.pid));
    } catch {
      // the exit script then finds it by its command line
    }
  }
  const group = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  return { child, killGroup: () => group('SIGKILL'), signalGroup: group };
}
