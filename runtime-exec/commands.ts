/**
 * Helper commands (mount, umount, getfattr, cp…) without forking Node for each one.
 *
 * `spawn` forks this process before it execs the command, and Node's fork copies the page tables of a ~60-250 MB
 * process on the main thread: ~2.5 ms of blocked event loop per command on the benchmark machine, and a build step
 * runs three or four of them (an edit rebuild of the 40-instruction workload: ~40). ShellRunner keeps one small
 * `/bin/sh` instead; each command is one line to it, forked from the shell, with its output in files in a
 * private directory. Commands run concurrently (each in a background subshell). If the shell dies, later commands
 * run with `directRunner`. A long command whose output is shown as it comes (a build's `runc run`) goes through
 * runStreaming, its output files read as they grow (output-files.ts); killable processes need their pid written
 * by the command line itself (start-runc.ts).
 *
 * The shell is also a death tie (`tieOnExit`): when its stdin pipe from this process closes (close(), or this
 * process died, even by SIGKILL), it runs every cleanup script still registered before it exits. It runs in a
 * session of its own, so a signal to this process's group (Ctrl-C, `kill -9 -PGID`) does not end it first.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResult, CommandRunner } from '../layer-store/core/index.js';
import { directRunner } from './exec.js';
import { FollowedOutput, POLL_MS, type OutputSink } from './output-files.js';

/** `$0` of the helper shell: how `ps` (and the tests) tell it apart. */
export const HELPER_SHELL_NAME = 'tsbuild-sh';

/**
 * Removes the directories `<name>-<pid>-*` in `parent` whose process is gone: a shell killed with its build leaves
 * its directory (on a tmpfs, nothing else would remove it). Best effort; a live or reused pid keeps its directory.
 */
function sweepDeadShellDirs(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const prefix = `${HELPER_SHELL_NAME}-`;
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive (or not ours to signal: EPERM)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    rmSync(join(parent, n), { recursive: true, force: true });
  }
}

/** Quotes `s` for sh: single quotes, each `'` as `'\''`. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// Reads "<n>\n<stdin file>\n"; runs the command line in file <n>.cmd (sourced) in a background subshell with
// stdout/stderr in files named by <n>, then prints "<n> <exit status>". `jobs` lets the shell reap finished
// background jobs. The command line is not sent through the pipe: the shell's `read` takes one byte per read(2)
// call, and a mount's lowerdir list (~100 bytes a layer) made that 3,000 system calls and 4.7 ms more a command
// (bench: a 3,000-byte line took 6.5 ms, a short one 1.9 ms); `.` reads the file in blocks.
// At end of input (this process closed the pipe or died), the registered exit scripts (tieOnExit) run, each in a
// background subshell (one stops a `runc run` that the shell itself runs, runStreaming); the shell waits for them
// and for its running commands, then runs each script once more (they are idempotent): a mount that was in flight
// the first time is detached then. Last, the shell removes its directory (this process may be gone) unless close()
// removed it already.
const SCRIPT = `d=$1
while IFS= read -r n && IFS= read -r i; do
  { . "$d/$n.cmd" <"$d/$i" >"$d/$n.out" 2>"$d/$n.err"; echo "$n $?"; } &
  jobs >/dev/null
done
for f in "$d"/exit-*.sh; do [ -f "$f" ] && (. "$f") </dev/null >/dev/null 2>&1 & done
wait
for f in "$d"/exit-*.sh; do [ -f "$f" ] && (. "$f") </dev/null >/dev/null 2>&1; done
if [ -d "$d" ]; then rm -rf "$d"; fi`;

/**
 * A persistent shell that runs helper commands for this process (see the file comment). Call close() when done.
 * The shell and its directory are made at the first command: a build whose steps all hit the cache starts none.
 */
export class ShellRunner implements CommandRunner {
  readonly #parent: string;
  #started = false;
  #dir!: string;
  #sh!: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, { resolve: (r: CommandResult) => void; reject: (e: unknown) => void }>();
  #next = 0;
  #dead = false;
  #buf = '';
  readonly #fallback = directRunner();
  #exited!: Promise<void>;
  /** The commands of runStreaming still running, by number, and the timer that reads their output. */
  readonly #following = new Map<number, FollowedOutput>();
  #poll: NodeJS.Timeout | undefined;

  /** `o.dir`: where its private directory goes (default the OS temp dir); a build passes its scratch dir. */
  constructor(o: { dir?: string } = {}) {
    this.#parent = o.dir ?? tmpdir();
  }

  /** Starts the shell at its first use; false when it cannot start (then it is dead, as after a crash). */
  #running(): boolean {
    if (this.#started) return true;
    try {
      this.#start();
      return true;
    } catch {
      this.#dead = true;
      return false;
    }
  }

  #start(): void {
    sweepDeadShellDirs(this.#parent);
    this.#dir = mkdtempSync(join(this.#parent, `${HELPER_SHELL_NAME}-${process.pid}-`));
    this.#started = true;
    writeFileSync(join(this.#dir, 'none.in'), '');
    this.#sh = spawn('/bin/sh', ['-c', SCRIPT, HELPER_SHELL_NAME, this.#dir], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, detached: true });
    this.#sh.stdout.setEncoding('utf8').on('data', (s: string) => this.#onData(s));
    this.#sh.stderr.resume();
    this.#sh.stdin.on('error', () => this.#die(new Error('helper shell stdin closed')));
    this.#exited = new Promise((resolve) => this.#sh.once('close', () => resolve()));
    this.#sh.once('close', () => this.#die(new Error('helper shell exited')));
    this.#sh.once('error', (e) => this.#die(e));
    // An idle shell must not keep a finished program alive (close() ends it normally): it holds the event loop
    // only while a command is pending.
    this.#sh.unref();
    for (const s of [this.#sh.stdin, this.#sh.stdout, this.#sh.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  }

  #hold(on: boolean): void {
    const out = this.#sh.stdout as unknown as { ref?: () => void; unref?: () => void };
    if (on) out.ref?.();
    else out.unref?.();
  }

  run(cmd: string, args: readonly string[], o: { readonly input?: string | Buffer; readonly cwd?: string } = {}): Promise<CommandResult> {
    if (this.#dead) return this.#fallback.run(cmd, args, o);
    const words = [cmd, ...args].map(shQuote).join(' ');
    // The command line must stay one line: a newline in an argument goes to the direct runner.
    if (/[\n\r]/.test(words) || (o.cwd !== undefined && /[\n\r]/.test(o.cwd))) return this.#fallback.run(cmd, args, o);
    // No private directory (or no shell): every command is spawned directly, as after the shell died.
    if (!this.#running()) return this.#fallback.run(cmd, args, o);
    const n = this.#next++;
    const inFile = o.input === undefined ? 'none.in' : `${n}.in`;
    const line = o.cwd !== undefined ? `cd ${shQuote(o.cwd)} && ${words}` : words;
    try {
      if (o.input !== undefined) writeFileSync(join(this.#dir, inFile), o.input);
      writeFileSync(join(this.#dir, `${n}.cmd`), `${line}\n`);
    } catch {
      // Its directory's disk is full (ENOSPC, a step that filled the store's disk): the unmount after that step
      // must still run, so this command is spawned directly.
      for (const f of [inFile, `${n}.cmd`]) if (f !== 'none.in') rmSync(join(this.#dir, f), { force: true });
      return this.#fallback.run(cmd, args, o);
    }
    return new Promise<CommandResult>((resolve, reject) => {
      this.#pending.set(n, {
        resolve: (r) => {
          // As spawn does for a missing program (callers tell "not installed" by ENOENT).
          if (r.code === 127 && /not found/.test(r.stderr)) reject(Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: 'ENOENT' }));
          else resolve(r);
        },
        reject,
      });
      if (this.#pending.size === 1) this.#hold(true);
      this.#sh.stdin.write(`${n}\n${inFile}\n`);
    });
  }

  /**
   * Runs the sh command line `line` (one line; its words quoted by the caller, e.g. with shQuote; it must not
   * `exit`, which would end the job before it reports) in the shell and returns its exit status; its stdout and stderr go to `sink` while it runs (output-files.ts: read from its
   * output files every POLL_MS, and the rest when it ends). Undefined when the shell is not running or the command
   * cannot be written (its disk full): the caller then starts the command itself. For a long command whose output
   * is shown as it comes (a RUN step's `runc run`), without forking this process for it.
   */
  runStreaming(line: string, sink: OutputSink): Promise<number> | undefined {
    if (this.#dead || /[\n\r]/.test(line)) return undefined;
    if (!this.#running()) return undefined;
    const n = this.#next++;
    try {
      writeFileSync(join(this.#dir, `${n}.cmd`), `${line}\n`);
    } catch {
      rmSync(join(this.#dir, `${n}.cmd`), { force: true });
      return undefined;
    }
    const out = new FollowedOutput(join(this.#dir, String(n)), sink);
    this.#following.set(n, out);
    this.#poll ??= setInterval(() => { for (const f of this.#following.values()) f.poll(); }, POLL_MS);
    const stop = (): void => {
      this.#following.delete(n);
      if (this.#following.size === 0 && this.#poll) {
        clearInterval(this.#poll);
        this.#poll = undefined;
      }
    };
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(n, {
        resolve: (r) => { stop(); resolve(r.code); },
        reject: (e) => { stop(); out.abandon(); reject(e); },
      });
      if (this.#pending.size === 1) this.#hold(true);
      this.#sh.stdin.write(`${n}\nnone.in\n`);
    });
  }

  #onData(s: string): void {
    this.#buf += s;
    for (;;) {
      const nl = this.#buf.indexOf('\n');
      if (nl < 0) return;
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      const [nS, codeS] = line.split(' ');
      const n = Number(nS);
      const p = this.#pending.get(n);
      if (!p) continue;
      this.#pending.delete(n);
      if (this.#pending.size === 0) this.#hold(false);
      const base = join(this.#dir, String(n));
      try {
        const followed = this.#following.get(n);
        if (followed) {
          followed.finish();
          p.resolve({ code: Number(codeS), stdout: Buffer.alloc(0), stderr: '' });
          continue;
        }
        const stdout = readFileSync(`${base}.out`);
        const stderr = readFileSync(`${base}.err`, 'utf8');
        p.resolve({ code: Number(codeS), stdout, stderr });
      } catch (e) {
        p.reject(e);
      } finally {
        for (const ext of ['out', 'err', 'in', 'cmd']) {
          try {
            unlinkSync(`${base}.${ext}`);
          } catch {
            // not there
          }
        }
      }
    }
  }

  /**
   * Registers `script` (sh, sourced in a subshell with no stdin and its output discarded) to run when the shell's
   * input ends while it is registered: this process died, or called close() before release(). Returns the
   * release function (removes the script; idempotent), or undefined when the shell is not running (dead, or its
   * directory cannot be made or written): the caller then needs a tie of its own.
   */
  tieOnExit(script: string): (() => void) | undefined {
    if (this.#dead) return undefined;
    if (!this.#running()) return undefined;
    const file = join(this.#dir, `exit-${this.#next++}.sh`);
    try {
      writeFileSync(file, `${script}\n`);
    } catch {
      rmSync(file, { force: true });
      return undefined;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      try {
        unlinkSync(file);
      } catch {
        // gone with the directory
      }
    };
  }

  /** Whether the shell is still there to hold exit scripts (a dead one cannot). */
  get alive(): boolean {
    return !this.#dead;
  }

  #die(e: unknown): void {
    if (this.#dead) return;
    this.#dead = true;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Whether an exit script is still registered in the shell's directory (true when it cannot be read). */
  #exitScriptsLeft(): boolean {
    try {
      return readdirSync(this.#dir).some((n) => n.startsWith('exit-'));
    } catch (e) {
      return (e as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }

  /** Lets running commands finish, ends the shell and removes its directory. */
  async close(): Promise<void> {
    if (!this.#started) {
      this.#dead = true;
      return;
    }
    if (!this.#dead) {
      this.#dead = true;
      // With no command running and no exit script registered (a build's usual end) the directory is removed here,
      // so that the shell's last line forks no `rm` (a fork and exec at the end of every build that ran a step).
      if (this.#pending.size === 0 && !this.#exitScriptsLeft()) rmSync(this.#dir, { recursive: true, force: true });
      this.#sh.ref();
      this.#hold(true);
      this.#sh.stdin.end();
      await this.#exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
