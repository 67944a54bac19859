/**
 * How JavaScript values stand for Go values in a template: a plain object is a struct (fields in their order; an
 * unknown field is an error), an object marked with goMap() is a map (keys sorted when printed, ranged over or
 * marshalled; a missing key is `<no value>`), arrays are slices, null is nil, undefined is "no value".
 */

const GO_MAP = Symbol.for('tsbuild.go-template.map');
const GO_NIL = Symbol.for('tsbuild.go-template.nil');
const GO_OMIT = Symbol.for('tsbuild.go-template.omitempty');
const GO_SORTED = Symbol.for('tsbuild.go-template.sorted-json');

/** Marks an empty array or map as Go's nil slice or map: printed `[]`/`map[]`, marshalled `null`; returns it. */
export function goNil<T extends object>(v: T): T {
  Object.defineProperty(v, GO_NIL, { value: true, enumerable: false, configurable: true });
  return v;
}

export function isGoNil(v: unknown): boolean {
  return v !== null && typeof v === 'object' && GO_NIL in v;
}

/**
 * Marks `obj` as a struct whose fields `keys` carry `json:",omitempty"`: json leaves them out when empty (nil,
 * "", 0, false, an empty slice or map), while templates still see them; returns it.
 */
export function goStruct<T extends object>(obj: T, omitempty: readonly (keyof T & string)[], o: { sortedJson?: boolean } = {}): T {
  Object.defineProperty(obj, GO_OMIT, { value: new Set(omitempty), enumerable: false, configurable: true });
  // A struct with a MarshalJSON that writes a map (docker's formatter contexts): json sorts its keys.
  if (o.sortedJson) Object.defineProperty(obj, GO_SORTED, { value: true, enumerable: false, configurable: true });
  return obj;
}

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isGoMap(v)) return Object.keys(v).length === 0;
  return false;
}

/** Marks `obj` as a Go map whose missing keys index to `zero` (e.g. "" for map[string]string); returns it. */
export function goMap<T extends object>(obj: T, zero?: unknown): T {
  Object.defineProperty(obj, GO_MAP, { value: { zero }, enumerable: false, configurable: true });
  return obj;
}

/** Returns `v` with every object in it marked as a map (decoded JSON, as Go's map[string]interface{}). */
export function goMapsDeep<T>(v: T): T {
  if (Array.isArray(v)) v.forEach(goMapsDeep);
  else if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) goMapsDeep(x);
    goMap(v);
  }
  return v;
}

export function isGoMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && GO_MAP in v;
}

/** The zero value a missing key of map `m` indexes to. */
export function mapZero(m: object): unknown {
  return (m as Record<symbol, { zero?: unknown } | undefined>)[GO_MAP]?.zero;
}

export function isStruct(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !isGoMap(v);
}

/** Returns the kind name used in error messages. */
export function kindOf(v: unknown): string {
  if (v === undefined) return 'invalid';
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'slice';
  if (isGoMap(v)) return 'map';
  if (typeof v === 'object') return 'struct';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  return typeof v === 'boolean' ? 'bool' : typeof v === 'string' ? 'string' : typeof v;
}

/** Returns whether `v` is "true" as text/template's if/with/and/or see it (empty and zero values are false). */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isGoMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** Returns a number as Go's %v prints it: integers in full, floats with %g's shortest form. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21) {
    const [m, e] = n.toExponential().split('e');
    const ev = Number(e);
    return `${m}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Returns `v` as Go's fmt %v prints it. */
export function printValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(inner).join(' ')}]`;
  if (isGoMap(v) && isGoNil(v)) return 'map[]';
  if (isGoMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${inner(v[k])}`).join(' ')}]`;
  if (typeof v === 'object') return `{${Object.values(v as object).map(inner).join(' ')}}`;
  return String(v);
}

function inner(v: unknown): string {
  return v === undefined || v === null ? '<nil>' : printValue(v);
}

/** Options of marshalJson. */
export interface MarshalOptions {
  /** Indent per level, as json.MarshalIndent (default: none, compact). */
  readonly indent?: string;
  /** Escape <, > and & as \u003c… (json.Marshal's default; docker's `json` function turns it off). Default false. */
  readonly escapeHtml?: boolean;
}

/**
 * Returns `v` as Go's encoding/json writes it: struct fields in order (omitempty fields left out when empty),
 * map keys sorted, nil slices and maps as null, undefined as null. Compact with HTML escaping off (docker's `json`
 * template function) unless `o` says otherwise.
 */
export function marshalJson(v: unknown, o: MarshalOptions = {}, depth = 0): string {
  if (v === undefined || v === null || isGoNil(v)) return 'null';
  if (typeof v === 'string') return jsonString(v, o.escapeHtml === true);
  if (typeof v === 'number') return Number.isFinite(v) ? formatJsonNumber(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  const ind = o.indent;
  const open = (items: string[], l: string, r: string): string => {
    if (items.length === 0) return l + r;
    if (!ind) return l + items.join(',') + r;
    const pad = ind.repeat(depth + 1);
    return `${l}\n${items.map((x) => pad + x).join(',\n')}\n${ind.repeat(depth)}${r}`;
  };
  if (Array.isArray(v)) return open(v.map((x) => marshalJson(x, o, depth + 1)), '[', ']');
  if (typeof v === 'object') {
    const rec = v as Record<string, unknown>;
    const omit = (v as Record<symbol, Set<string> | undefined>)[GO_OMIT];
    const keys = isGoMap(v) || GO_SORTED in v ? Object.keys(v).sort() : Object.keys(v).filter((k) => rec[k] !== undefined && !(omit?.has(k) && isEmptyValue(rec[k])));
    return open(keys.map((k) => `${jsonString(k, o.escapeHtml === true)}:${ind ? ' ' : ''}${marshalJson(rec[k], o, depth + 1)}`), '{', '}');
  }
  return 'null';
}

function formatJsonNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    const [m, e] = n.toExponential().split('e');
    const ev = Number(e);
    return `${m}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return String(n);
}

/** A string as Go's encoding/json writes it (`escapeHtml`: `<`, `>`, `&` as \u escapes, json.Marshal's default). */
export function jsonString(s: string, escapeHtml: boolean): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c === 0x2028 || c === 0x2029 || (escapeHtml && (ch === '<' || ch === '>' || ch === '&'))) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
