/**
 * Cache keys: a step's key is sha256 over the canonical JSON of a versioned record of its inputs,
 * with explicit exclusions (proxy variables, cache-mount ids, informational fields, per-file detail).
 * The record itself is stored with the result so explainMiss can name the first input that differs.
 */
import { digestOf, type Digest, type MissReason } from '../layer-store/core/index.js';
import { canonicalJson, compareNames } from './fsutil.js';

/** A mount of a RUN step as it enters the key. */
export interface MountKey {
  readonly type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  readonly target: string;
  /** What is mounted, as a key: for a bind mount the source stage's step key or the context selection digest, plus the sub-path. */
  readonly source?: string;
  readonly readonly?: boolean;
  /** Cache-mount or secret id. Excluded from the key for cache mounts (their content never counts). */
  readonly id?: string;
  /** Other options that change what the command sees (mode, uid, gid, sharing, size, required, …), as strings. */
  readonly options?: Readonly<Record<string, string>>;
}

/**
 * The digest of exactly the source files a COPY/ADD selects, and the per-path fingerprints it covers
 * (`files`: path → `type|mode|uid:gid|size|content`), kept so a miss can name the file. Only `digest`
 * enters the key.
 */
export interface SourceDigest {
  readonly digest: Digest;
  readonly files?: Readonly<Record<string, string>>;
}

/** Everything a step's result depends on. Version 1. */
export interface StepInputs {
  readonly v: 1;
  /** The parent step's key, or the base image's manifest digest for a stage's first step (or 'scratch'). */
  readonly parent: Digest | string;
  /** The instruction after variable expansion, e.g. `RUN make` or `COPY --chmod=644 a b /dst`. */
  readonly instruction: string;
  /** `os/arch[/variant]` the step runs for. */
  readonly platform: string;
  /** Build args and ENV the step can see, sorted by name; proxy variables are dropped from the key. */
  readonly env: readonly (readonly [string, string])[];
  readonly mounts: readonly MountKey[];
  /** For COPY/ADD from the context: the selected files. For COPY --from: put the source stage's key in `instruction` or a mount-like source. */
  readonly sources?: SourceDigest;
  /** A stable id of the step (e.g. `stage/index`) for finding the nearest previous build; not part of the key. */
  readonly stepId?: string;
  /** Whether `parent` is a base image (or scratch) or a previous step; not part of the key, used to word the miss. */
  readonly parentKind?: 'base' | 'step';
  /** The base image reference as written, for messages; not part of the key. */
  readonly parentName?: string;
}

/** Build args that never enter keys or history (BuildKit's predefined proxy args, both spellings). */
export const PROXY_ARGS: ReadonlySet<string> = new Set(
  ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]),
);

function keyEnv(env: StepInputs['env']): (readonly [string, string])[] {
  return env
    .filter(([k]) => !PROXY_ARGS.has(k))
    .map(([k, v]) => [k, v] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

function keyMount(m: MountKey): MountKey {
  if (m.type !== 'cache') return m;
  const { id: _id, ...rest } = m;
  return rest;
}

/** Returns the exact material hashed into a step key (exclusions applied). Exposed for tests and `--explain --debug`. */
export function keyMaterial(i: StepInputs): string {
  return canonicalJson({
    v: i.v,
    parent: i.parent,
    instruction: i.instruction,
    platform: i.platform,
    env: keyEnv(i.env),
    mounts: i.mounts.map(keyMount),
    sources: i.sources?.digest ?? null,
  });
}

/** Returns the step's cache key: sha256 of the canonical JSON of its inputs. Pure. */
export function stepKey(i: StepInputs): Digest {
  return digestOf(keyMaterial(i));
}

const short = (s: string): string => (/^sha256:[0-9a-f]{64}$/.test(s) ? s.slice(0, 19) : s);

function parseFingerprint(f: string): { type: string; mode: string; owner: string; size: string; xattrs: string; content: string } {
  const [type = '', mode = '', owner = '', sizeField = '', ...rest] = f.split('|');
  const [size = '', xattrs = ''] = sizeField.split(';x=');
  return { type, mode, owner, size, xattrs, content: rest.join('|') };
}

/** Describes how one file's fingerprint changed ("content changed", "mode 0644 → 0755", …). */
function describeFileChange(before: string, now: string): string {
  const a = parseFingerprint(before);
  const b = parseFingerprint(now);
  if (a.type !== b.type) return `changed from ${a.type} to ${b.type}`;
  if (a.type === 'symlink' && a.content !== b.content) return `link target changed: ${a.content} → ${b.content}`;
  if (a.content !== b.content || a.size !== b.size) return 'content changed';
  if (a.mode !== b.mode) return `mode changed: ${a.mode} → ${b.mode}`;
  if (a.owner !== b.owner) return `owner changed: ${a.owner} → ${b.owner}`;
  if (a.xattrs !== b.xattrs) return 'extended attributes changed';
  return 'changed';
}

/** The path (in name order) whose fingerprint differs first, and how; one pass over each side, no sort of all paths. */
function firstFileDifference(before: Readonly<Record<string, string>>, now: Readonly<Record<string, string>>): MissReason | undefined {
  const own = (r: Readonly<Record<string, string>>, p: string): string | undefined => (Object.hasOwn(r, p) ? r[p] : undefined);
  let first: string | undefined;
  const consider = (p: string): void => {
    if (first === undefined || compareNames(p, first) < 0) first = p;
  };
  for (const p of Object.keys(now)) if (own(before, p) !== now[p]) consider(p);
  for (const p of Object.keys(before)) if (!Object.hasOwn(now, p)) consider(p);
  if (first === undefined) return undefined;
  const a = own(before, first);
  const b = own(now, first);
  if (a === undefined) return { kind: 'file', path: first, detail: `file ${first} was added` };
  if (b === undefined) return { kind: 'file', path: first, detail: `file ${first} was removed` };
  return { kind: 'file', path: first, detail: `file ${first}: ${describeFileChange(a, b)}` };
}

/**
 * Returns the first input in which `now` differs from `before` (the nearest previous build of the same step),
 * checked in this order: record version, platform, base image, instruction, build args/ENV, copied files,
 * mounts, parent step. Pure. Values of build args are not printed (they may be sensitive).
 */
export function explainMiss(now: StepInputs, before: StepInputs): MissReason {
  if (now.v !== before.v) return { kind: 'new-step', detail: `the cache record format changed (v${String(before.v)} → v${String(now.v)})` };
  if (now.platform !== before.platform) return { kind: 'platform', detail: `platform changed: ${before.platform} → ${now.platform}` };
  const isBase = now.parentKind === 'base' || before.parentKind === 'base';
  if (now.parent !== before.parent && isBase) {
    const name = now.parentName ?? before.parentName;
    return { kind: 'base', detail: `base image${name ? ` ${name}` : ''} changed: ${short(before.parent)} → ${short(now.parent)}` };
  }
  if (now.instruction !== before.instruction) {
    return { kind: 'instruction', detail: 'the instruction changed', before: before.instruction, now: now.instruction };
  }
  const envA = new Map(keyEnv(before.env));
  const envB = new Map(keyEnv(now.env));
  for (const name of [...new Set([...envA.keys(), ...envB.keys()])].sort()) {
    const a = envA.get(name);
    const b = envB.get(name);
    if (a === b) continue;
    if (a === undefined) return { kind: 'env', name, detail: `build arg or ENV ${name} is now set` };
    if (b === undefined) return { kind: 'env', name, detail: `build arg or ENV ${name} is no longer set` };
    return { kind: 'env', name, detail: `build arg or ENV ${name} changed value` };
  }
  if ((now.sources?.digest ?? null) !== (before.sources?.digest ?? null)) {
    if (now.sources?.files && before.sources?.files) {
      const d = firstFileDifference(before.sources.files, now.sources.files);
      if (d) return d;
    }
    if (!now.sources || !before.sources) return { kind: 'file', detail: now.sources ? 'the step now copies files' : 'the step no longer copies files' };
    return { kind: 'file', detail: `the copied files changed (${short(before.sources.digest)} → ${short(now.sources.digest)})` };
  }
  const ma = before.mounts.map((m) => canonicalJson(keyMount(m)));
  const mb = now.mounts.map((m) => canonicalJson(keyMount(m)));
  for (let i = 0; i < Math.max(ma.length, mb.length); i++) {
    if (ma[i] === mb[i]) continue;
    const target = now.mounts[i]?.target ?? before.mounts[i]?.target ?? '?';
    if (ma[i] === undefined) return { kind: 'mount', detail: `mount at ${target} was added` };
    if (mb[i] === undefined) return { kind: 'mount', detail: `mount at ${target} was removed` };
    return { kind: 'mount', detail: `mount at ${target} changed` };
  }
  if (now.parent !== before.parent) return { kind: 'parent', detail: `the previous step changed (${short(before.parent)} → ${short(now.parent)})` };
  return { kind: 'new-step', detail: 'same inputs as the previous build, but its cached result is gone (pruned or removed)' };
}
