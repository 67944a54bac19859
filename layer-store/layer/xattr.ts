/**
 * Extended attributes through the `attr` package's getfattr/setfattr (Node has no xattr API).
 *
 * Why the CLI and not a native addon: the maintained addons (fs-xattr, @napi-rs/xattr …) need a compiler or a
 * prebuilt binary for this exact platform, while `attr` is a Debian base package. We call it in bulk, never per
 * file: ONE `getfattr -R` dumps every xattr of a tree, and ONE `setfattr --restore` applies every xattr of a
 * layer, so the cost is two process spawns per layer, whatever its size. Neither follows symlinks (-h, -P).
 */
import { spawn } from 'node:child_process';
import { decodeName, encodeName, type CommandRunner } from '../core/index.js';
import { LayerToolError } from './errors.js';

/** Path → (xattr name → raw value). Paths are absolute. */
export type XattrTable = Map<string, Map<string, Buffer>>;

/**
 * Returns the name in getfattr's output `s` (read as latin1, one char per byte: getfattr prints a name's bytes
 * raw, UTF-8 or not, and quotes only some bytes as \ooo). The name's bytes need not be UTF-8: core/file-names.ts.
 */
function unquote(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length + 0 && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else bytes.push(raw[i]!);
  }
  return decodeName(Buffer.from(bytes));
}

function quote(s: string): string {
  let out = '';
  for (const b of encodeName(s)) {
    out += (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2f || b === 0x5f || b === 0x2d
      ? String.fromCharCode(b)
      : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

function run(cmd: string, args: readonly string[], input: string | Buffer | undefined, signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on('data', (c: Buffer) => out.push(c));
    p.stderr!.on('data', (c: Buffer) => err.push(c));
    p.on('error', (e: NodeJS.ErrnoException) => reject(new LayerToolError(cmd, e.code === 'ENOENT' ? 'not installed' : e.message, { cause: e })));
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('latin1')); // bytes: names need not be UTF-8
      else reject(new LayerToolError(cmd, `exited ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 500)}`));
    });
    if (input !== undefined) {
      p.stdin!.on('error', () => undefined);
      p.stdin!.end(input);
    }
  });
}

/** `run` through a CommandRunner (a ShellRunner): the same errors. */
async function viaRunner(commands: CommandRunner, cmd: string, args: readonly string[], input?: Buffer): Promise<string> {
  let r;
  try {
    r = await commands.run(cmd, args, input === undefined ? undefined : { input });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LayerToolError(cmd, code === 'ENOENT' ? 'not installed' : (e as Error).message, { cause: e });
  }
  if (r.code !== 0) throw new LayerToolError(cmd, `exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
  return r.stdout.toString('latin1'); // bytes: names need not be UTF-8
}

/** Returns every xattr under `dir` (recursively, including `dir`), symlinks not followed. */
export async function readXattrTree(dir: string, signal?: AbortSignal, commands?: CommandRunner): Promise<XattrTable> {
  const args = ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', dir];
  const text = commands ? await viaRunner(commands, 'getfattr', args) : await run('getfattr', args, undefined, signal);
  return parseDump(text);
}

/** Returns the xattrs named `name` of `paths` (absolute, each on its own, symlinks not followed), one getfattr. */
export async function readXattrOf(paths: readonly string[], name: string): Promise<XattrTable> {
  if (paths.length === 0) return new Map();
  // getfattr exits 1 when a file lacks the attribute, and still prints the others: its output is the answer.
  const text = await run('sh', ['-c', 'getfattr "$@" 2>/dev/null; exit 0', 'sh', '-P', '-h', '-n', name, '-e', 'hex', '--absolute-names', '--', ...paths], undefined, undefined);
  return parseDump(text);
}

/**
 * Returns every xattr of each of `paths` (absolute; not recursive, symlinks not followed); a path without any has
 * no entry. The names go to `xargs -0 getfattr` on stdin as bytes (a name need not be UTF-8, and xargs splits
 * them into as few processes as the argument limit allows). With `commands` (a build's ShellRunner) xargs is
 * forked by that shell instead of by this process (see runtime-exec/commands.ts: no fork of Node).
 */
export async function readXattrsOf(paths: readonly string[], signal?: AbortSignal, commands?: CommandRunner): Promise<XattrTable> {
  if (paths.length === 0) return new Map();
  const names = Buffer.concat(paths.flatMap((p) => [encodeName(p), Buffer.from([0])]));
  const args = ['-0', 'getfattr', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--'];
  return parseDump(commands ? await viaRunner(commands, 'xargs', args, names) : await run('xargs', args, names, signal));
}

/** Parses getfattr's dump (`-d`/`-n`, `-e hex`) into a table. */
function parseDump(text: string): XattrTable {
  const table: XattrTable = new Map();
  let cur: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = new Map();
      table.set(unquote(line.slice('# file: '.length)), cur);
    } else if (cur && line.length > 0) {
      const eq = line.indexOf('=');
      if (eq === -1) { cur.set(unquote(line), Buffer.alloc(0)); continue; }
      const name = unquote(line.slice(0, eq));
      const v = line.slice(eq + 1);
      cur.set(name, v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : v.startsWith('"') ? Buffer.from(v.slice(1, -1), 'latin1') : Buffer.alloc(0));
    }
  }
  return table;
}

/** Sets every xattr in `items` (absolute paths) with one setfattr process; symlinks are not followed. */
export async function writeXattrs(items: Iterable<[string, ReadonlyMap<string, Buffer>]>, signal?: AbortSignal): Promise<void> {
  let dump = '';
  for (const [path, attrs] of items) {
    if (attrs.size === 0) continue;
    dump += `# file: ${quote(path)}\n`;
    for (const [k, v] of attrs) dump += `${quote(k)}=0x${v.toString('hex')}\n`;
    dump += '\n';
  }
  if (dump === '') return;
  await run('setfattr', ['-h', '--restore=-'], dump, signal);
}
