#!/usr/bin/env python3
"""Runs a command on a fresh pseudo-terminal (its controlling terminal, as a user's shell would) and prints
everything the command wrote to the terminal, then exits with the command's status.

Usage: pty-run.py ROWS COLS [--when TEXT --resize ROWS COLS] [--when TEXT --send TEXT] ... -- COMMAND [ARG...]

Each `--when TEXT` waits until TEXT has appeared in the output, then does the action that follows it:
`--resize` sets the terminal's size (the kernel sends SIGWINCH to the foreground process group), `--send`
types TEXT (\\n and \\x03 escapes understood). Used by tests of `tsbuild run -t`.
"""
import fcntl, os, pty, select, signal, struct, sys, termios, time

def winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

def main():
    argv = sys.argv[1:]
    sep = argv.index('--')
    opts, cmd = argv[:sep], argv[sep + 1:]
    rows, cols = int(opts[0]), int(opts[1])
    steps, i = [], 2
    while i < len(opts):
        assert opts[i] == '--when', opts[i]
        when, act = opts[i + 1], opts[i + 2]
        if act == '--resize':
            steps.append((when, 'resize', (int(opts[i + 3]), int(opts[i + 4])))); i += 5
        elif act == '--send':
            steps.append((when, 'send', opts[i + 3].encode().decode('unicode_escape').encode('latin-1'))); i += 4
        else:
            raise SystemExit('unknown action ' + act)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    winsize(fd, rows, cols)
    out = b''
    deadline = time.time() + 60
    while time.time() < deadline:
        while steps and steps[0][0].encode() in out:
            _, act, arg = steps.pop(0)
            if act == 'resize':
                winsize(fd, *arg)
            else:
                os.write(fd, arg)
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8)

main()
