/**
 * `RUN --mount=...` specs (BuildKit's commands_runmount.go): a CSV record of `key=value` fields, split once at
 * parse time (parseMountSpec → ParsedMount, carried by the RUN instruction). Values are variable-expanded at
 * build time with the stage env (builder/plan expandRunMounts → interpretMount with an expander); at parse time
 * a value holding `$` is left for later, except `from`, which never expands ("define an alias stage instead").
 */
import { DockerfileError, suggest } from '../errors.js';
import { parseGoBool, type FlagLocation } from './flags.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type MountSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  readonly type: MountType;
  /** Stage name/index or image the source is read from (bind, cache). */
  readonly from?: string;
  readonly source?: string;
  readonly target?: string;
  readonly readOnly: boolean;
  /** `id=` (cache id, secret id or ssh id). */
  readonly id?: string;
  readonly sharing?: MountSharing;
  /** For secret and ssh mounts: fail when the secret/agent is missing. */
  readonly required: boolean;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** tmpfs size in bytes. */
  readonly size?: number;
  /** secret: the environment variable to expose the secret as. */
  readonly env?: string;
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly MountSharing[] = ['shared', 'private', 'locked'];
const ALL_KEYS = ['type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'mode', 'uid', 'gid', 'size', 'env',
  'src', 'dst', 'destination', 'ro', 'rw', 'readwrite'];

/** One CSV field of a `--mount` value: `key=value` (key lower-cased, value as written) or a bare `key`. */
export interface MountField {
  /** The field as written. */
  readonly field: string;
  /** The key, lower-cased. */
  readonly key: string;
  /** The value as written (unexpanded); undefined for a bare key (`ro`, `required`). */
  readonly value?: string;
}

/**
 * A `--mount` value parsed once, at parse time: the RunMount its fields say without expansion (a field whose
 * value holds `$` is not set yet), plus the value as written and its fields for the expansion at build time
 * (builder/plan's expandRunMounts runs interpretMount again with the stage's variables); `from` never expands.
 */
export interface ParsedMount extends RunMount {
  /** The `--mount` value as written (what error messages quote). */
  readonly spec: string;
  /** Its CSV fields, split once, values unexpanded. */
  readonly fields: readonly MountField[];
  /** True when some value holds `$`: the RunMount fields are not final, expansion decides. */
  readonly deferred: boolean;
}

function badMount(spec: string, loc: FlagLocation, msg: string, hint = 'see https://docs.docker.com/reference/dockerfile/#run---mount'): DockerfileError {
  return new DockerfileError('DOCKERFILE_BAD_FLAG', `RUN --mount=${spec}: ${msg}`, { hint, location: loc });
}

/** Splits a `--mount` value into its fields (Go encoding/csv). Throws DockerfileError DOCKERFILE_BAD_FLAG at `loc`. */
function mountFields(spec: string, loc: FlagLocation): MountField[] {
  let fields: string[];
  try {
    fields = parseCsvRecord(spec);
  } catch (e) {
    throw badMount(spec, loc, `failed to parse csv mounts: ${(e as Error).message}`);
  }
  return fields.map((f) => {
    const eq = f.indexOf('=');
    return eq < 0 ? { field: f, key: f.toLowerCase() } : { field: f, key: f.slice(0, eq).toLowerCase(), value: f.slice(eq + 1) };
  });
}

/**
 * Parses one `--mount` value at parse time: splits it once and interprets what needs no expansion (validation
 * happens here, with the instruction's location). Throws DockerfileError DOCKERFILE_BAD_FLAG at `loc`.
 */
export function parseMountSpec(spec: string, loc: FlagLocation): ParsedMount {
  const fields = mountFields(spec, loc);
  const { mount, deferred } = interpretMount({ spec, fields }, loc);
  return { ...mount, spec, fields, deferred };
}

/**
 * Parses one `--mount` value. With `expand`, every value is expanded first (build time); without it, values
 * containing `$` are not interpreted yet. Throws DockerfileError DOCKERFILE_BAD_FLAG at `loc`.
 */
export function parseMount(spec: string, loc: FlagLocation, expand?: (word: string) => string): RunMount {
  return interpretMount({ spec, fields: mountFields(spec, loc) }, loc, expand).mount;
}

/**
 * Interprets a mount's fields as BuildKit's commands_runmount.go does: with `expand`, every value is expanded
 * first (the final mount); without it, a value holding `$` is left unset (`deferred`), and `from` with a
 * variable is an error. Throws DockerfileError DOCKERFILE_BAD_FLAG at `loc`, quoting `spec`.
 */
export function interpretMount(p: Pick<ParsedMount, 'spec' | 'fields'>, loc: FlagLocation, expand?: (word: string) => string): { mount: RunMount; deferred: boolean } {
  const bad = (msg: string, hint?: string): DockerfileError => badMount(p.spec, loc, msg, hint);
  const split = p.fields;
  const m: {
    type: MountType; from?: string; source?: string; target?: string; readOnly: boolean; id?: string; sharing?: MountSharing;
    required: boolean; mode?: number; uid?: number; gid?: number; size?: number; env?: string;
  } = { type: 'bind', readOnly: false, required: false };
  let roAuto = true;
  let deferred = false;
  // The type decides which keys are allowed, wherever it is written.
  for (const { key, value } of split) {
    if (key !== 'type' || value === undefined) continue;
    const v = expand !== undefined ? expand(value) : value;
    if (expand === undefined && v.includes('$')) {
      deferred = true;
      continue;
    }
    const t = v.toLowerCase() as MountType;
    if (!MOUNT_TYPES.includes(t)) {
      const s = suggest(v, MOUNT_TYPES);
      throw bad(`unsupported mount type ${JSON.stringify(v)}`, s !== undefined ? `did you mean ${s}? types: ${MOUNT_TYPES.join(', ')}` : `types: ${MOUNT_TYPES.join(', ')}`);
    }
    m.type = t;
  }

  for (const { field, key, value: raw } of split) {
    if (raw === undefined) {
      if (key === 'readonly' || key === 'ro') {
        m.readOnly = true;
        roAuto = false;
        continue;
      }
      if (key === 'readwrite' || key === 'rw') {
        m.readOnly = false;
        roAuto = false;
        continue;
      }
      if (key === 'required') {
        if (m.type === 'secret' || m.type === 'ssh') {
          m.required = true;
          continue;
        }
        throw bad(`unexpected key '${key}' for mount type '${m.type}'`);
      }
      throw bad(`invalid field '${field}' must be a key=value pair`);
    }
    let value = raw;
    if (expand !== undefined) value = expand(raw);
    else if (key === 'from' && /\$./su.test(raw)) {
      throw bad(`'${key}' doesn't support variable expansion, define alias stage instead`, 'add a stage (FROM image AS name, the image may use a global ARG) and mount from it');
    } else if (raw.includes('$')) {
      deferred = true; // interpreted at build time, after expansion
      continue;
    }

    const parseBool = (): boolean => {
      const b = parseGoBool(value);
      if (b === undefined) throw bad(`invalid value for ${key}: ${value}`);
      return b;
    };
    const parseUint = (base: 8 | 10, what: string): number => {
      const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
      const n = re.test(value) ? parseInt(value, base) : NaN;
      if (!Number.isFinite(n) || n > 0xffffffff) throw bad(`invalid value ${value} for ${what}`);
      return n;
    };
    switch (key) {
      case 'type':
        break; // handled above
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = parseBool();
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !parseBool();
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw bad(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool();
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        const s = value.toLowerCase() as MountSharing;
        if (!SHARING.includes(s)) throw bad(`unsupported sharing value ${JSON.stringify(value)}`, `sharing is one of ${SHARING.join(', ')}`);
        m.sharing = s;
        break;
      }
      case 'mode':
        m.mode = parseUint(8, 'mode');
        break;
      case 'uid':
        m.uid = parseUint(10, 'uid');
        break;
      case 'gid':
        m.gid = parseUint(10, 'gid');
        break;
      case 'size': {
        if (m.type !== 'tmpfs') throw bad(`unexpected key 'size' for mount type '${m.type}'`);
        const n = ramInBytes(value);
        if (n === undefined) throw bad(`invalid value ${value} for size`);
        m.size = n;
        break;
      }
      case 'env':
        if (m.type !== 'secret') throw bad(`unexpected key 'env' for mount type '${m.type}'`);
        m.env = value;
        break;
      default: {
        const s = suggest(key, ALL_KEYS);
        throw bad(`unexpected key '${key}' in '${field}'`, s !== undefined ? `did you mean ${s}?` : `keys: ${ALL_KEYS.join(', ')}`);
      }
    }
  }

  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  for (const k of ['mode', 'uid', 'gid'] as const) {
    if (m[k] !== undefined && !fileInfoAllowed) throw bad(`${k} not allowed for ${JSON.stringify(m.type)} type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.sharing !== undefined && m.type !== 'cache') throw bad(`invalid cache sharing set for ${m.type} mount`);
  if (m.type === 'secret') {
    if (m.from !== undefined) throw bad('secret mount should not have a from');
    if (!deferred && m.source === undefined && m.target === undefined && m.id === undefined && m.env === undefined) {
      throw bad('invalid secret mount. one of source, target required');
    }
    if (m.source !== undefined && m.id !== undefined) throw bad("both source and id can't be set");
  }
  return { mount: m, deferred };
}

/** Go encoding/csv: one record, comma separated, `"quoted, fields"` with `""` for a quote; bare quotes are errors. */
export function parseCsvRecord(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new Error('extraneous or missing " in quoted-field');
        const c = s[i]!;
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
      if (i < s.length && s[i] !== ',') throw new Error('extraneous or missing " in quoted-field');
    } else {
      while (i < s.length && s[i] !== ',') {
        if (s[i] === '"') throw new Error('bare " in non-quoted-field');
        field += s[i];
        i++;
      }
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // ','
  }
}

/** docker/go-units RAMInBytes: `64m`, `1g`, `512kb`, `1.5GiB`, plain bytes; binary multipliers. */
export function ramInBytes(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (m === null) return undefined;
  const n = Number(m[1]);
  if (!Number.isFinite(n)) return undefined;
  const mult: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.trunc(n * (m[2] !== undefined ? mult[m[2].toLowerCase()]! : 1));
}
