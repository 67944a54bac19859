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
 * Cost: one small shell and one subshell per RUN step (~1 ms), beside runc's own processes.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

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
