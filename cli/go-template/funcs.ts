/**
 * The functions a template can call: text/template's builtins (and, or, not, len, index, slice, print, printf,
 * println, eq, ne, lt, le, gt, ge, html, js, urlquery) and docker's (json, split, join, title, lower, upper, pad,
 * truncate), with Go's argument checks. `and`/`or` are evaluated lazily by the executor.
 */
import { isGoMap, kindOf, mapZero, marshalJson, printValue, truth } from './values.js';
import { sprint, sprintf, sprintln } from './printf.js';

/** A function error; the executor adds the template position. */
export class FuncError extends Error {}

export type TemplateFunc = (...args: unknown[]) => unknown;

function arity(name: string, args: readonly unknown[], n: number): void {
  if (args.length !== n) throw new FuncError(`wrong number of args for ${name}: want ${n} got ${args.length}`);
}

function str(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new FuncError(`wrong type for value; expected string; got ${kindOf(v)}`);
  return v;
}

function int(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new FuncError(`cannot index slice/array with type ${kindOf(v)}`);
  return v;
}

function basicKind(v: unknown): 'int' | 'float' | 'string' | 'bool' | 'nil' | undefined {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  return undefined;
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new FuncError('missing argument for comparison');
  const ka = basicKind(a);
  if (!ka) throw new FuncError(`non-comparable type ${printValue(a)}: ${kindOf(a)}`);
  for (const b of rest) {
    const kb = basicKind(b);
    if (!kb) throw new FuncError(`non-comparable type ${printValue(b)}: ${kindOf(b)}`);
    if (ka === 'nil' || kb === 'nil') {
      if (ka === kb) return true;
      continue;
    }
    const numeric = (k: string) => k === 'int' || k === 'float';
    if (ka !== kb && !(numeric(ka) && numeric(kb))) throw new FuncError('incompatible types for comparison');
    if (a === b) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (!ka || !kb || ka === 'nil' || kb === 'nil' || ka === 'bool' || kb === 'bool') throw new FuncError(`invalid type for comparison`);
  const numeric = (k: string) => k === 'int' || k === 'float';
  if (ka !== kb && !(numeric(ka) && numeric(kb))) throw new FuncError('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (v === null || v === undefined) throw new FuncError('index of untyped nil');
    if (Array.isArray(v)) {
      const i = int(k);
      if (i < 0 || i >= v.length) throw new FuncError(`error calling index: index out of range: ${i}`);
      v = v[i];
    } else if (typeof v === 'string') {
      const bytes = Buffer.from(v, 'utf8');
      const i = int(k);
      if (i < 0 || i >= bytes.length) throw new FuncError(`error calling index: index out of range: ${i}`);
      v = bytes[i];
    } else if (isGoMap(v)) {
      if (typeof k !== 'string') throw new FuncError(`value has type ${kindOf(k)}; should be string`);
      v = Object.prototype.hasOwnProperty.call(v, k) ? v[k] : mapZero(v);
    } else throw new FuncError(`can't index item of type ${kindOf(v)}`);
  }
  return v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (idx.length > 3) throw new FuncError(`too many slice indexes: ${idx.length}`);
  const ns = idx.map(int);
  if (typeof item === 'string') {
    if (ns.length === 3) throw new FuncError('cannot 3-index slice a string');
    const b = Buffer.from(item, 'utf8');
    const lo = ns[0] ?? 0;
    const hi = ns[1] ?? b.length;
    if (lo < 0 || hi > b.length || lo > hi) throw new FuncError(`error calling slice: index out of range: ${hi}`);
    return b.subarray(lo, hi).toString('utf8');
  }
  if (Array.isArray(item)) {
    const lo = ns[0] ?? 0;
    const hi = ns[1] ?? item.length;
    if (lo < 0 || hi > item.length || lo > hi) throw new FuncError(`error calling slice: index out of range: ${hi}`);
    return item.slice(lo, hi);
  }
  throw new FuncError(`can't slice item of type ${kindOf(item)}`);
}

function len(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (isGoMap(v)) return Object.keys(v).length;
  throw new FuncError(`error calling len: len of type ${kindOf(v)}`);
}

function htmlEscape(s: string): string {
  return s.replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
}

function jsEscape(s: string): string {
  return s.replace(/[\\'"<>&=\n\r\t]|[\x00-\x1f]/g, (c) => {
    const m: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return m[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

function title(s: string): string {
  return s.replace(/[\p{L}\p{N}']+/gu, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
}

/** Go text/template's builtins (`and`/`or` are handled lazily by the executor; these are their eager forms). */
export const BUILTINS: Readonly<Record<string, TemplateFunc>> = {
  and: (...a) => { for (const x of a) if (!truth(x)) return x; return a[a.length - 1]; },
  or: (...a) => { for (const x of a) if (truth(x)) return x; return a[a.length - 1]; },
  not: (...a) => { arity('not', a, 1); return !truth(a[0]); },
  len: (...a) => { arity('len', a, 1); return len(a[0]); },
  index: (item, ...keys) => index(item, ...keys),
  slice: (item, ...idx) => slice(item, ...idx),
  print: (...a) => sprint(a),
  printf: (...a) => sprintf(str('printf', a[0]), a.slice(1)),
  println: (...a) => sprintln(a),
  eq: (a, ...b) => eq(a, ...b),
  ne: (...a) => { arity('ne', a, 2); return !eq(a[0], a[1]); },
  lt: (...a) => { arity('lt', a, 2); return lt(a[0], a[1]); },
  le: (...a) => { arity('le', a, 2); return lt(a[0], a[1]) || eq(a[0], a[1]); },
  gt: (...a) => { arity('gt', a, 2); return !lt(a[0], a[1]) && !eq(a[0], a[1]); },
  ge: (...a) => { arity('ge', a, 2); return !lt(a[0], a[1]); },
  html: (...a) => htmlEscape(sprint(a)),
  js: (...a) => jsEscape(sprint(a)),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'),
  call: () => { throw new FuncError('call: no callable values in this data'); },
};

/**
 * docker's template functions (docker/cli templates.basicFunctions): `json` marshals without HTML escaping,
 * `split`/`join` are Go's strings functions, `title` capitalises words, `pad` adds spaces before and after,
 * `truncate` cuts to a length in runes.
 */
export const DOCKER_FUNCS: Readonly<Record<string, TemplateFunc>> = {
  json: (...a) => { arity('json', a, 1); return marshalJson(a[0]); },
  split: (...a) => {
    arity('split', a, 2);
    const s = str('split', a[0]);
    const sep = str('split', a[1]);
    return sep === '' ? [...s] : s.split(sep);
  },
  join: (...a) => {
    arity('join', a, 2);
    if (!Array.isArray(a[0])) throw new FuncError(`wrong type for value; expected []string; got ${kindOf(a[0])}`);
    return a[0].map((x) => (typeof x === 'string' ? x : printValue(x))).join(str('join', a[1]));
  },
  title: (...a) => { arity('title', a, 1); return title(str('title', a[0])); },
  lower: (...a) => { arity('lower', a, 1); return str('lower', a[0]).toLowerCase(); },
  upper: (...a) => { arity('upper', a, 1); return str('upper', a[0]).toUpperCase(); },
  pad: (...a) => {
    arity('pad', a, 3);
    const s = str('pad', a[0]);
    return ' '.repeat(Math.max(0, int(a[1]))) + s + ' '.repeat(Math.max(0, int(a[2])));
  },
  truncate: (...a) => {
    arity('truncate', a, 2);
    const r = [...str('truncate', a[0])];
    const n = int(a[1]);
    return r.length <= n ? r.join('') : r.slice(0, n).join('');
  },
};
