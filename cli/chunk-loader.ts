/**
 * The start of the bundled executable (`dist/bin/tsbuild.cjs`, what bin/tsbuild runs; scripts/bundle.mjs
 * builds it): loads the CommonJS chunks of dist/bin with `vm.Script` and a V8 code cache per chunk, so that a
 * command's code is not parsed and compiled again on every start (Node 20 has no `module.enableCompileCache`,
 * and its ES module loader takes no cached data).
 *
 * - A chunk is compiled in strict mode (it was an ES module) inside a function wrapper: exports, require,
 *   module, __filename, __dirname, plus `__tsbImportMeta` for `import.meta` and `__tsbLazy` for the builtins
 *   loaded on first use (scripts/cjs-chunks.mjs).
 * - Its cache is `NAME.cjs.v8-cache` beside it (`NAME.cjs.bulk.v8-cache` for BULK_COMMANDS, run under another V8 flag) (code-cache.ts: checked against the exact source and its own
 *   CRC; anything else reads as no cache). V8 rejects data of another Node version or other V8 flags.
 * - At exit, a chunk whose cache was missing, rejected, or made after other commands than this one is written
 *   again (V8's data then holds the functions of this run and of the data it read: it grows to cover the
 *   commands used, up to MAX_KEYS of them). Written to a temporary file and renamed; a directory that cannot be
 *   written (a read-only install) just means no cache. `TSBUILD_CODE_CACHE=0` neither reads nor writes one.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import * as zlib from 'node:zlib';
import { decodeCodeCache, encodeCodeCache, sourceCrc, type Crc32 } from './code-cache.js';
import { refreshSnapshot } from './snapshot.js';

/** The function each chunk's text is compiled in (the parameters bundle.mjs's conversion relies on). */
export const WRAPPER_HEAD = "(function (exports, require, module, __filename, __dirname, __tsbImportMeta, __tsbLazy) {'use strict';";
export const WRAPPER_TAIL = '\n})';
/** The cache file of a chunk file. */
/** The cache file of a chunk file; `variant` names a set of V8 flags (`bulk`: BULK_COMMANDS's), whose caches V8
 * would refuse under the default flags and the other way round: each set keeps its own, or the commands of one
 * would rewrite the caches of the other at every exit. */
export const cacheFileOf = (chunk: string, variant = ''): string => `${chunk}${variant ? `.${variant}` : ''}.v8-cache`;
/**
 * The commands that move bulk bytes (layers packed, unpacked, pulled, pushed, copied), which run with V8's
 * incremental marking off. Streaming hundreds of MiB through Buffers made V8 start incremental marking again and
 * again on its allocation limit: ~95 full GCs in a W3 build (a RUN writing 512 MiB), 1.2 CPU s; without it 1-3,
 * and a lower peak RSS (layer-store/README.md). The flag is set before the first chunk is compiled, and never
 * changed after: V8 stamps cached data with a hash of the flags (a cache made under other flags is refused and
 * rewritten on every run), and turning incremental marking off while a marking cycle runs crashed V8 ("Fatal
 * error: unreachable code", 1 W2 `--no-cache` build in 4, when it was turned off at a command's first 16 MiB
 * transfer). As a node command-line flag it would cost every command Node's start-up snapshot (~15 ms).
 */
/** The V8 flag BULK_COMMANDS run under (set before any chunk is compiled, or on a bulk snapshot's node command line). */
export const BULK_FLAG = '--no-incremental-marking';
export const BULK_COMMANDS: ReadonlySet<string> = new Set(['build', 'buildx', 'image', 'run', 'pull', 'push', 'copy', 'save', 'load', 'import', 'export', 'blob', 'flatten', 'append', 'mutate']);
/** At most this many commands are recorded in a cache; a further one no longer rewrites it. */
export const MAX_KEYS = 24;

type ChunkFunction = (exports: unknown, require: (s: string) => unknown, module: { exports: unknown }, filename: string,
  dirname: string, meta: { url: string; resolve: (s: string) => string }, lazy: typeof lazyModule) => void;

interface Loaded {
  readonly file: string;
  readonly script: Script;
  readonly sourceBytes: number;
  readonly sourceCrc: number;
  /** The keys to write with new data, or undefined when the cache read is kept. */
  readonly writeKeys: readonly string[] | undefined;
}

/**
 * The word the cache records for a command line: the command (the first argument after the global options),
 * or the flag there (`--version`, `--help`), or '.' for the default command (`tsbuild -t app .`). bin/tsbuild
 * finds the same word (choose_snapshot) to pick the snapshot of BULK_COMMANDS.
 */
export function cacheKey(argv: readonly string[]): string {
  let i = 0;
  while (i < argv.length) {
    if (/^--(root|progress)$/.test(argv[i]!) && i + 1 < argv.length) i += 2;
    else if (/^--(root=|progress=|debug$)/.test(argv[i]!)) i += 1;
    else break;
  }
  const a = argv[i];
  if (a === undefined) return '.';
  if (a === '--version' || a === '--help' || a === '-h') return a;
  return /^[a-z][a-z-]{0,31}$/.test(a) ? a : '.';
}

/**
 * A stand-in for a builtin module until first used: the first property read loads it (`load`) and hands it to
 * `set`, which replaces the stand-in in the chunk's variable, so later reads are plain.
 */
export function lazyModule(load: () => object, set: (m: object) => void): object {
  let real: object | undefined;
  const get = (): Record<PropertyKey, unknown> => {
    if (real === undefined) { real = load(); set(real); }
    return real as Record<PropertyKey, unknown>;
  };
  return new Proxy({}, {
    get: (_t, k) => get()[k],
    set: (_t, k, v) => { get()[k] = v; return true; },
    has: (_t, k) => k in get(),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_t, k) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), k);
      if (d) d.configurable = true;
      return d;
    },
    getPrototypeOf: () => Object.getPrototypeOf(get()) as object | null,
  });
}

/** A chunk this process compiled: its file and the identity of the exact source (what a snapshot records). */
export interface ChunkSource {
  readonly file: string;
  readonly sourceBytes: number;
  readonly sourceCrc: number;
}

/** Loads the chunks of one directory, each once, and writes their caches at exit. */
export class ChunkLoader {
  readonly #modules = new Map<string, { exports: unknown }>();
  #loaded: Loaded[] = [];
  #crc32: Crc32 | undefined;
  #key: string;
  #variant: string;
  readonly #builtin: ((s: string) => unknown) | undefined;
  readonly #head = Buffer.from(WRAPPER_HEAD);
  readonly #tail = Buffer.from(WRAPPER_TAIL);

  /**
   * `key`: cacheKey of the command line; `useCache`: read and write caches (needs zlib.crc32, Node >= 20.15);
   * `variant`: cacheFileOf's; `builtin`: how a chunk requires a Node builtin (default: a require made for the
   * chunk file; a startup snapshot's loader passes one that is not tied to the process that built it).
   */
  constructor(key: string, useCache: boolean, variant = '', builtin?: (s: string) => unknown) {
    this.#key = key;
    this.#variant = variant;
    this.#builtin = builtin;
    this.#crc32 = crc32If(useCache);
  }

  /**
   * Makes a loader restored from a startup snapshot this run's: the command's key, cache use and variant; the
   * chunks already run stay loaded (their modules are in the heap), the rest load and cache as usual.
   */
  resume(key: string, useCache: boolean, variant: string): void {
    this.#key = key;
    this.#variant = variant;
    this.#crc32 = crc32If(useCache);
    this.#loaded = [];
  }

  /** The chunks this loader compiled (with caches on), in load order. */
  sources(): ChunkSource[] {
    return this.#loaded.map(({ file, sourceBytes, sourceCrc }) => ({ file, sourceBytes, sourceCrc }));
  }

  /** Runs the chunk file (once) and returns its exports. */
  load(file: string): unknown {
    const known = this.#modules.get(file);
    if (known) return known.exports;
    const m = { exports: {} as unknown };
    this.#modules.set(file, m);
    const body = readFileSync(file);
    const source = `${WRAPPER_HEAD}${body.toString('utf8')}${WRAPPER_TAIL}`;
    const fn = this.#compile(file, body, source).runInThisContext() as ChunkFunction;
    const dir = dirname(file);
    // The chunk's require of a builtin and its import.meta.url are made when first used, not for every chunk loaded
    // (pathToFileURL and createRequire are ~0.1 ms a call, and most chunks use neither at load).
    let real: NodeJS.Require | undefined;
    const outer = (): NodeJS.Require => (real ??= createRequire(file));
    const builtin = this.#builtin ?? ((s: string): unknown => outer()(s));
    const require = (s: string): unknown => (s.startsWith('./') ? this.load(join(dir, s)) : builtin(s));
    let url: string | undefined;
    const meta = { get url() { return (url ??= pathToFileURL(file).href); }, resolve: (s: string) => pathToFileURL(outer().resolve(s)).href };
    fn.call(undefined, m.exports, require, m, file, dir, meta, lazyModule);
    return m.exports;
  }

  #compile(file: string, body: Buffer, source: string): Script {
    const crc32 = this.#crc32;
    if (!crc32) return new Script(source, { filename: file });
    const sourceBytes = this.#head.length + body.length + this.#tail.length;
    const crc = sourceCrc([this.#head, body, this.#tail], crc32) >>> 0;
    let cache;
    try { cache = decodeCodeCache(readFileSync(cacheFileOf(file, this.#variant)), sourceBytes, crc, crc32); } catch { cache = undefined; }
    const script = new Script(source, { filename: file, ...(cache ? { cachedData: cache.data } : {}) });
    const keys = cache !== undefined && !script.cachedDataRejected ? cache.keys : undefined;
    let writeKeys: readonly string[] | undefined;
    if (!keys) writeKeys = [this.#key];
    else if (!keys.includes(this.#key) && keys.length < MAX_KEYS) writeKeys = [...keys, this.#key];
    this.#loaded.push({ file, script, sourceBytes, sourceCrc: crc, writeKeys });
    return script;
  }

  /**
   * Writes the caches that need it (see the file comment); never throws. Answers whether every chunk compiled
   * had a cache that needed nothing (caches on): what a startup snapshot is made from.
   */
  saveCaches(): boolean {
    const crc32 = this.#crc32;
    if (!crc32) return false;
    if (!this.#loaded.some((c) => c.writeKeys)) return true;
    for (const c of this.#loaded) {
      if (!c.writeKeys) continue;
      const target = cacheFileOf(c.file, this.#variant);
      const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
      try {
        const fd = openSync(tmp, 'w', 0o644);
        try {
          writeFileSync(fd, encodeCodeCache(c.sourceBytes, c.sourceCrc, c.script.createCachedData(), c.writeKeys, crc32));
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, target);
      } catch {
        try { unlinkSync(tmp); } catch { /* never made */ }
        return false; // no cache where none can be written (a read-only install): the other chunks' are not tried
      }
    }
    return false;
  }
}

/** zlib.crc32 when caches are on and Node has it (≥ 20.15). */
function crc32If(useCache: boolean): Crc32 | undefined {
  const crc32 = (zlib as { crc32?: Crc32 }).crc32;
  return useCache && typeof crc32 === 'function' ? crc32 : undefined;
}

/** Whether `TSBUILD_CODE_CACHE` allows caches (and so a startup snapshot). */
export const cachesOn = (env: NodeJS.ProcessEnv): boolean => env['TSBUILD_CODE_CACHE'] !== '0';

/**
 * Runs the executable: `entry` (a chunk file in `dir` exporting `main`) with this process's command line.
 * `flagsSet`: V8's flags for BULK_COMMANDS are already set (a bulk startup snapshot's run, whose node command
 * line carried them). At exit, after the caches, the command's startup snapshot is made when it has none that
 * serves (snapshot.ts), or `staleSnapshot` (it started from one whose chunk files changed).
 */
export function runBundle(dir: string, entry: string, flagsSet = false, staleSnapshot = false): void {
  const key = cacheKey(process.argv.slice(2));
  const bulk = flagsSet || BULK_COMMANDS.has(key);
  // node:v8 loads the stream modules: required only by the commands that set the flag.
  if (bulk && !flagsSet) (createRequire(join(dir, entry))('node:v8') as typeof import('node:v8')).setFlagsFromString(BULK_FLAG);
  const variant = bulk ? 'bulk' : '';
  const loader = new ChunkLoader(key, cachesOn(process.env), variant);
  process.once('exit', () => {
    if (loader.saveCaches()) refreshSnapshot(dir, key, variant, bulk ? [BULK_FLAG] : [], loader.sources(), staleSnapshot);
  });
  (loader.load(join(dir, entry)) as { main: () => Promise<void> }).main();
}
