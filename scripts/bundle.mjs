// Bundles the CLI into dist/bin/tsbuild.mjs (the `tsbuild` executable loads it): one file instead of ~150
// modules halves start-up time, which a no-change rebuild is mostly made of. Registry code (undici) and the
// live terminal view (log-update) are split into chunks that load only when a command needs them.
import { dirname } from 'node:path';
import { build } from 'esbuild';

/**
 * string-width (under yargs' cliui and log-update) builds Intl.Segmenter and several Unicode-property
 * regular expressions when its module is evaluated: ~50 ms of every start, even for commands that never
 * measure a string. Imports of it get a shim that answers printable ASCII itself and loads the real module
 * (through require, which esbuild makes a lazy initialiser) on the first other string.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.namespace === 'lazy-string-width' || args.pluginData === 'real') return undefined;
      const real = await b.resolve('string-width', { resolveDir: args.resolveDir, kind: args.kind, namespace: 'file', pluginData: 'real' });
      if (real.errors.length > 0) return undefined;
      return { path: real.path, namespace: 'lazy-string-width' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      resolveDir: '.',
      contents: [
        'const PRINTABLE_ASCII = /^[\\x20-\\x7e]*$/;',
        'let real;',
        'export default function stringWidth(s, o) {',
        "  if (typeof s === 'string' && PRINTABLE_ASCII.test(s)) return s.length;",
        `  real ??= require(${JSON.stringify(args.path)}).default;`,
        '  return real(s, o);',
        '}',
      ].join('\n'),
    }));
  },
};

/**
 * undici's index loads everything it has (fetch, WebSocket, EventSource, mocks, caches: ~1 MB of code) when
 * the registry client only needs Agent and its request() API. The registry client's `import('undici')` gets
 * that subset, required by relative path from undici's own directory; types still come from undici.
 */
const undiciAgentOnly = {
  name: 'undici-agent-only',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, async (args) => {
      if (args.namespace === 'undici-agent-only' || args.pluginData === 'real') return undefined;
      const real = await b.resolve('undici', { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'real' });
      if (real.errors.length > 0) return undefined;
      return { path: real.path, namespace: 'undici-agent-only' };
    });
    b.onLoad({ filter: /.*/, namespace: 'undici-agent-only' }, (args) => ({
      resolveDir: dirname(args.path),
      loader: 'js',
      contents: [
        "const Agent = require('./lib/dispatcher/agent');",
        "const Dispatcher = require('./lib/dispatcher/dispatcher');",
        "const api = require('./lib/api');",
        'Object.assign(Dispatcher.prototype, api);',
        'module.exports = { Agent, Dispatcher };',
      ].join('\n'),
    }));
  },
};

/**
 * ansi-styles builds its colour tables when evaluated (~20 ms); wrap-ansi (under yargs' help) only reads
 * `codes` from it, when wrapping coloured text. Imports of it get a proxy that loads it on first property read.
 */
const lazyAnsiStyles = {
  name: 'lazy-ansi-styles',
  setup(b) {
    b.onResolve({ filter: /^ansi-styles$/ }, async (args) => {
      if (args.namespace === 'lazy-ansi-styles' || args.pluginData === 'real') return undefined;
      const real = await b.resolve('ansi-styles', { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'real' });
      if (real.errors.length > 0) return undefined;
      return { path: real.path, namespace: 'lazy-ansi-styles' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-ansi-styles' }, (args) => ({
      resolveDir: '.',
      contents: [
        'let real;',
        `const load = () => (real ??= require(${JSON.stringify(args.path)}).default);`,
        'export default new Proxy({}, {',
        '  get: (_t, k) => Reflect.get(load(), k),',
        '  has: (_t, k) => Reflect.has(load(), k),',
        '  ownKeys: () => Reflect.ownKeys(load()),',
        '  getOwnPropertyDescriptor: (_t, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k); if (d) d.configurable = true; return d; },',
        '});',
      ].join('\n'),
    }));
  },
};

await build({
  entryPoints: { tsbuild: 'cli/main.ts' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: 'dist/bin',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  plugins: [lazyStringWidth, lazyAnsiStyles, undiciAgentOnly],
  banner: { js: "import { createRequire as __tsbCreateRequire } from 'node:module'; const require = __tsbCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
