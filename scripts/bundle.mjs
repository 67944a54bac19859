// Bundles the CLI into dist/bin/tsbuild.mjs (the `tsbuild` executable loads it): one file instead of ~150
// modules halves start-up time, which a no-change rebuild is mostly made of. Registry code (undici) and the
// live terminal view (log-update) are split into chunks that load only when a command needs them.
import { dirname } from 'node:path';
import { build } from 'esbuild';

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

if (process.argv[1] === new URL(import.meta.url).pathname) await build({
  entryPoints: { tsbuild: 'cli/bin.ts' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: 'dist/bin',
  chunkNames: '[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  plugins: [ownModulesPure, lazyStringWidth, lazyAnsiStyles, undiciAgentOnly],
  banner: { js: "import { createRequire as __tsbCreateRequire } from 'node:module'; const require = __tsbCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
