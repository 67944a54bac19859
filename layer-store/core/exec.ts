/**
 * `promisify(execFile)` made at its first call: a module that keeps it in a constant would read
 * `child_process.execFile` when loaded, and the executable loads builtins on first use (cli/README.md, Start-up),
 * so loading child_process, net and dgram (~5 ms) would be paid by commands that never start a process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const make = () => promisify(execFile);
let made: ReturnType<typeof make> | undefined;

/** `promisify(execFile)`: resolves with { stdout, stderr }, rejects with the error execFile gives. */
export const execFileAsync = ((...args: Parameters<ReturnType<typeof make>>) => (made ??= make())(...args)) as ReturnType<typeof make>;
