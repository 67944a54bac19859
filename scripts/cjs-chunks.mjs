// Turns esbuild's ES module chunks of the executable into the CommonJS chunks that cli/chunk-loader.ts runs
// (dist/bin/NAME.cjs): esbuild's own ESM → CJS transform, with
// - `import.meta` → `__tsbImportMeta` (the loader passes { url, resolve } of the chunk file);
// - `import('./x.mjs')` → a promise of `require('./x.cjs')` (Promise.resolve().then(...), so still async);
// - each top-level import of a Node builtin → `__tsbLazy(...)`: the builtin loads on first use, not when the
//   chunk does (child_process, net, crypto, zlib, assert… are ~10 ms of a start that most commands never use);
// - characters above U+00FF in the comments esbuild keeps (JSDoc of class members) written as \uXXXX: V8 holds a
//   source with any such character as a two-byte string, twice its length in the heap and in a startup snapshot
//   (three chunks of a cached build, 0.48 MB of its 7 MB snapshot, and ~2.5 ms of every start per MB: cli/README.md).
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
  return latin1Comments(lines.join('\n').replace(/require\("\.\/([^"]+)\.mjs"\)/g, 'require("./$1.cjs")'));
}

const WIDE = /[^\x00-\xff]/g;
const escapeWide = (s) => s.replace(WIDE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Returns `text` with the characters above U+00FF on its comment lines (a line that starts, after blanks, with
 * `//`, `/*` or `*`) escaped. esbuild already escapes them in strings and templates (charset ascii); what it
 * keeps is comments, regular expressions and the raw text of tagged templates. That only comments changed is
 * checked: the text with its comments removed by esbuild must be the same before and after, else the build
 * stops. A wide character left elsewhere (a regular expression) is reported, not changed.
 */
async function latin1Comments(text) {
  if (!/[^\x00-\xff]/.test(text)) return text;
  const out = text.split('\n').map((line) => (/^\s*(?:\/\/|\/\*|\*)/.test(line) ? escapeWide(line) : line)).join('\n');
  const bare = async (t) => (await transform(t, { minifyWhitespace: true, charset: 'utf8', logLevel: 'error' })).code;
  if ((await bare(out)) !== (await bare(text))) throw new Error('cjs-chunks: escaping the comments of a chunk changed its code');
  const left = out.match(WIDE);
  if (left) console.warn(`cjs-chunks: a chunk keeps ${left.length} character(s) above U+00FF outside its comments (${[...new Set(left)].join(' ')}): V8 holds it as a two-byte string; write them as \\u escapes`);
  return out;
}
