// Bundles the CLI into dist/bin (the `tsbuild` executable runs dist/bin/tsbuild.cjs): one bundle instead of ~150
// modules halves start-up time, which a no-change rebuild is mostly made of. Each command, registry code (undici)
// and the live terminal view (log-update) are split into chunks that load only when a command needs them. The
// chunks are CommonJS (cjs-chunks.mjs) so that cli/chunk-loader.ts can compile them with a V8 code cache.
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { build } from 'esbuild';
import { cjsName, toCommonJsChunk } from './cjs-chunks.mjs';

/**
 * An esbuild plugin that answers every import of the package `pkg` with `shim(realPath)`, a module of our own
 * that may require the real one (esbuild turns a require of an ES module into a lazy initialiser). The shim's
 * own imports of `pkg`, and the lookup of the real path, resolve normally.
 */
function replaceModule(pkg, shim, o = {}) {
  const ns = `replace-${pkg}`;
  const filter = new RegExp(`^${pkg.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&')}$`);
  return {
    name: ns,
    setup(b) {
      b.onResolve({ filter }, async (args) => {
        if (args.namespace === ns || args.pluginData === 'real') return undefined;
        const real = await b.resolve(pkg, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'real' });
        if (real.errors.length > 0) return undefined;
        return { path: real.path, namespace: ns };
      });
      b.onLoad({ filter: /.*/, namespace: ns }, (args) => ({
        resolveDir: o.resolveFromPackage ? dirname(args.path) : '.',
        ...(o.loader ? { loader: o.loader } : {}),
        contents: shim(JSON.stringify(args.path)).join('\n'),
      }));
    },
  };
}

/**
 * string-width (under yargs' cliui and log-update) builds Intl.Segmenter and several Unicode-property
 * regular expressions when its module is evaluated: ~50 ms of every start, even for commands that never
 * measure a string. The shim answers printable ASCII itself and loads the real module on the first other string.
 */
export const lazyStringWidth = replaceModule('string-width', (real) => [
  'const PRINTABLE_ASCII = /^[\\x20-\\x7e]*$/;',
  'let real;',
  'export default function stringWidth(s, o) {',
  "  if (typeof s === 'string' && PRINTABLE_ASCII.test(s)) return s.length;",
  `  real ??= require(${real}).default;`,
  '  return real(s, o);',
  '}',
]);

/**
 * ansi-styles builds its colour tables when evaluated (~20 ms); wrap-ansi (under yargs' help) only reads
 * `codes` from it, when wrapping coloured text. The shim is a proxy that loads it on first property read.
 */
export const lazyAnsiStyles = replaceModule('ansi-styles', (real) => [
  'let real;',
  `const load = () => (real ??= require(${real}).default);`,
  'export default new Proxy({}, {',
  '  get: (_t, k) => Reflect.get(load(), k),',
  '  has: (_t, k) => Reflect.has(load(), k),',
  '  ownKeys: () => Reflect.ownKeys(load()),',
  '  getOwnPropertyDescriptor: (_t, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k); if (d) d.configurable = true; return d; },',
  '});',
]);

/**
 * yargs reads `strictEqual` and `notStrictEqual` from node's assert when loaded, to check its own arguments, and
 * loading assert creates process.stderr and loads the stream modules (~4 ms of every start, `--version`
 * included). The shim compares as they do (Object.is) and calls the real one, which throws, only on a mismatch.
 */
export const lazyAssert = replaceModule('assert', (real) => [
  'let real;',
  `const load = () => (real ??= require(${real}));`,
  'export function strictEqual(a, b, m) { if (!Object.is(a, b)) load().strictEqual(a, b, m); }',
  'export function notStrictEqual(a, b, m) { if (Object.is(a, b)) load().notStrictEqual(a, b, m); }',
]);

/**
 * An esbuild plugin that replaces, in the package file whose path matches `filter`, each text `from` with `to`;
 * the build fails when a `from` is missing (the package changed: look again at the patch).
 */
function patchPackageFile(name, filter, edits) {
  return {
    name,
    setup(b) {
      b.onLoad({ filter }, async (args) => {
        let text = await readFile(args.path, 'utf8');
        for (const [from, to] of edits) {
          if (!text.includes(from)) throw new Error(`${args.path}: no "${from}" (the package changed: update ${name} in scripts/bundle.mjs)`);
          text = text.replace(from, to);
        }
        return { contents: text, loader: 'js' };
      });
    },
  };
}

/**
 * yargs() sets a default version before ours replaces it: it looks for a package.json from the directory of the
 * main module, which in a bundle (no node_modules in the path) is the current directory, and reads every
 * directory from there up to / (a build context of 20,000 files, /tmp…), then loads assert to fail its check.
 * Here that search starts at the package root (two levels up from dist/bin), the only use yargs makes of it.
 */
export const yargsMainIsThePackage = patchPackageFile('yargs-main-is-the-package', /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/, [
  ['mainFilename: mainFilename || process.cwd(),', "mainFilename: fileURLToPath(new URL('../../', import.meta.url)),"],
]);

/**
 * yargs() sets a default version, read from the package.json it finds (a directory listing and a file read, ~1 ms),
 * which main.ts replaces at once with the package's version (`.version(version())`). The guess is skipped.
 */
export const yargsNoVersionGuess = patchPackageFile('yargs-no-version-guess', /[\\/]yargs[\\/]build[\\/]lib[\\/]yargs-factory\.js$/, [
  ["const obj = this[kPkgUp]();\n        return obj.version || 'unknown';", "return 'unknown'; // scripts/bundle.mjs: main.ts sets the version"],
]);

/**
 * yargs checks the arguments of each of its API calls (`argsert('<string> [object]', arguments)`), parsing the
 * type string every time: 265 calls for a build, ~3 ms. The parse of each string is kept (argsert only reads it).
 */
export const yargsArgsertOnce = patchPackageFile('yargs-argsert-once', /[\\/]yargs[\\/]build[\\/]lib[\\/]argsert\.js$/, [
  ["const positionName = ", "const parsedSpecs = new Map();\nconst positionName = "],
  ["parseCommand(`cmd ${arg1}`),", "parsedSpecs.get(arg1) ?? parsedSpecs.set(arg1, parseCommand(`cmd ${arg1}`)).get(arg1),"],
]);

/**
 * undici's index loads everything it has (fetch, WebSocket, EventSource, mocks, caches: ~1 MB of code) when
 * the registry client only needs Agent and its request() API (and ProxyAgent when a proxy is set). The registry client's `import('undici')` gets
 * that subset, required by relative path from undici's own directory; types still come from undici.
 */
export const undiciAgentOnly = replaceModule('undici', () => [
  "const Agent = require('./lib/dispatcher/agent');",
  "const Dispatcher = require('./lib/dispatcher/dispatcher');",
  "const api = require('./lib/api');",
  'Object.assign(Dispatcher.prototype, api);',
  // ProxyAgent (HTTP(S)_PROXY) only when a proxy is used: its require runs on first access.
  "module.exports = { Agent, Dispatcher, get ProxyAgent() { return require('./lib/dispatcher/proxy-agent'); } };",
], { resolveFromPackage: true, loader: 'js' });

/**
 * Marks tsbuild's own modules free of side effects when imported (true by the house style: no side-effect
 * registration, module-level values are constants), so esbuild drops the modules a barrel (`builder/index.ts`)
 * re-exports but the importing code never uses. Without it, `tsbuild images` loaded the whole builder (~0.5 MB)
 * through cli/docker-view's one import of the Dockerfile parser.
 */
export const ownModulesPure = {
  name: 'own-modules-pure',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === 'own-modules-pure' || args.resolveDir.includes('/node_modules/')) return undefined;
      const r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'own-modules-pure' });
      if (r.errors.length > 0 || r.path.includes('/node_modules/') || r.namespace !== 'file') return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

if (process.argv[1] === new URL(import.meta.url).pathname) {
  // The command's code: ES module chunks (esbuild splits only ESM) turned into CommonJS chunks.
  const esm = await build({
    entryPoints: { main: 'cli/bundle-main.ts' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: 'dist/bin',
    chunkNames: '[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    plugins: [ownModulesPure, lazyStringWidth, lazyAnsiStyles, lazyAssert, yargsMainIsThePackage, yargsNoVersionGuess, yargsArgsertOnce, undiciAgentOnly],
    write: false,
    logLevel: 'warning',
  });
  mkdirSync('dist/bin', { recursive: true });
  for (const f of esm.outputFiles) writeFileSync(cjsName(f.path), await toCommonJsChunk(f.text));
  // The start, what bin/tsbuild runs: the chunk loader (cli/chunk-loader.ts), CommonJS, running main.cjs's main.
  await build({
    stdin: { contents: "require('./cli/chunk-loader.ts').runBundle(__dirname, 'main.cjs');", resolveDir: '.', sourcefile: 'tsbuild.cjs', loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: 'dist/bin/tsbuild.cjs',
    logLevel: 'warning',
  });
  // What a V8 startup snapshot of the executable is made from (cli/snapshot-entry.ts, run by cli/snapshot.ts): one
  // file that requires only Node builtins, as `node --build-snapshot` wants.
  await build({
    entryPoints: ['cli/snapshot-entry.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: 'dist/bin/snapshot-entry.cjs',
    logLevel: 'warning',
  });
  // What the executable writes beside its chunks at run time (code caches, startup snapshots: cli/chunk-loader.ts,
  // cli/snapshot.ts) is made for the node that wrote it and stays out of a package packed from this checkout.
  writeFileSync('dist/bin/.npmignore', '*.v8-cache\n*.blob\n*.snapshot\n.*.tmp\n.tsbuild.*\n');
  // `node dist/bin/tsbuild.mjs` and `import 'dist/bin/tsbuild.mjs'` (bin/tsbuild.js) still run the executable.
  writeFileSync('dist/bin/tsbuild.mjs', "import { createRequire } from 'node:module';\ncreateRequire(import.meta.url)('./tsbuild.cjs');\n");
}
