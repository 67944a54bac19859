// Turns esbuild's ES module chunks of the executable into the CommonJS chunks that cli/chunk-loader.ts runs
// (dist/bin/NAME.cjs): esbuild's own ESM → CJS transform, with
// - `import.meta` → `__tsbImportMeta` (the loader passes { url, resolve } of the chunk file);
// - `import('./x.mjs')` → a promise of `require('./x.cjs')` (Promise.resolve().then(...), so still async);
// - each top-level import of a Node builtin → `__tsbLazy(...)`: the builtin loads on first use, not when the
//   chunk does (child_process, net, crypto, zlib, assert… are ~10 ms of a start that most commands never use).
import { builtinModules } from 'node:module';
import { transform } from 'esbuild';

const BUILTINS = new Set(builtinModules);
const isBuiltin = (s) => BUILTINS.has(s.replace(/^node:/, ''));

/** The chunk file name for an ESM output name (`chunk-AB12.mjs` → `chunk-AB12.cjs`). */
export const cjsName = (name) => name.replace(/\.mjs$/, '.cjs');

/** Converts one ESM chunk's text to the CommonJS text the loader compiles. */
export async function toCommonJsChunk(code) {
  const r = await transform(code, {
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    supported: { 'dynamic-import': false },
    define: { 'import.meta': '__tsbImportMeta' },
    logLevel: 'error',
  });
  const lines = r.code.split('\n').map((line) => {
    // esbuild writes a top-level import as `var import_x = require("x");` or `= __toESM(require("x"));`.
    const m = /^var (import_[\w$]+) = ((?:__toESM\()?require\("([^"]+)"\)(?:, 1)?\)?);$/.exec(line);
    if (!m || !isBuiltin(m[3])) return line;
    return `var ${m[1]} = __tsbLazy(() => ${m[2]}, (m) => { ${m[1]} = m; });`;
  });
  return lines.join('\n').replace(/require\("\.\/([^"]+)\.mjs"\)/g, 'require("./$1.cjs")');
}
