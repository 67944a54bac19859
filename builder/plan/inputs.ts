/**
 * The cache-key material of each layer-producing step (pure): BuildKit's `CacheMap` inputs, spelled as the
 * executor hands them to cache's `stepKey`. Everything here is a function of the expanded instruction, the
 * stage state and values the executor has already read (file digests, layer diffIDs); nothing is read here.
 *
 * `StepMaterial` restates cache's `StepInputs` (v1) field for field, because the plan layer may not import
 * cache; execute passes it to `stepKey` as is, so the compiler flags any drift. Which fields enter the key is
 * said on each field (cache/keys.ts applies the exclusions).
 */
import { digestOf, formatPlatform, type Digest, type MissReason, type Platform } from '../../layer-store/core/index.js';
import type { AddInstruction, CopyInstruction, RunMount, SourceContent } from '../frontend/index.js';

/** Prefix of every step's `instruction`: bump it to invalidate every cached step (the record format's version). */
export const CACHE_RECORD_VERSION = 'tsbuild-step-v1';

/** A RUN mount as it enters the key (cache's MountKey). */
export interface MountMaterial {
  /** In the key. */
  readonly type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  /** In the key. */
  readonly target: string;
  /** In the key: a bind mount's source by content (`<from or context>:<path>@<content>`). */
  readonly source?: string;
  /** In the key, except for cache mounts (their content never counts). */
  readonly id?: string;
  /** In the key: every other option that changes what the command sees, as strings. */
  readonly options?: Readonly<Record<string, string>>;
}

/** The selected source files of a COPY/ADD from the context (cache's SourceDigest). */
export interface SourcesMaterial {
  /** In the key (a context COPY without a stat cache keys as the word `context`, cast). */
  readonly digest: Digest;
  /** Not in the key: per-file fingerprints, so a miss can name the file (and COPY can reuse unchanged ones). */
  readonly files?: Readonly<Record<string, string>>;
}

/** Everything a step's result depends on, v1 (cache's StepInputs). */
export interface StepMaterial {
  readonly v: 1;
  /** In the key: the previous step's key, or the base's identity (manifest digest, `scratch:<platform>`). */
  readonly parent: string;
  /** In the key: `tsbuild-step-v1 <the expanded instruction and what else changes its result>`. */
  readonly instruction: string;
  /** In the key: `os/arch[/variant]`. */
  readonly platform: string;
  /** In the key (proxy variables dropped by cache): what RUN sees as env, sorted; empty for COPY/ADD/WORKDIR. */
  readonly env: readonly (readonly [string, string])[];
  /** In the key. */
  readonly mounts: readonly MountMaterial[];
  /** In the key (its digest): a context COPY/ADD's selected files. */
  readonly sources?: SourcesMaterial;
  /** Not in the key: the step's position, to find the previous build of the same step (explain, reuse). */
  readonly stepId: string;
  /** Not in the key: words the miss. */
  readonly parentKind: 'base' | 'step';
  /** Not in the key: the base reference as written, for messages. */
  readonly parentName: string;
}

/** Where a step sits: its parent in the key chain and its position (StageState + the step's id). */
export interface StepOrigin {
  readonly parent: string;
  readonly parentKind: 'base' | 'step';
  readonly parentName: string;
  readonly platform: Platform;
  /** See stepIdOf. */
  readonly stepId: string;
  /** SOURCE_DATE_EPOCH (Unix seconds) when set: layers' mtimes are clamped to it, so it is in every step's key. */
  readonly epoch?: number | undefined;
}

/** A step's position across builds: `<context dir>|<Dockerfile>|<stage name or index>|<step id>`. */
export function stepIdOf(contextDir: string, dockerfile: string, stage: string | number, id: string): string {
  return `${contextDir}|${dockerfile}|${stage}|${id}`;
}

/**
 * The key material every step shares. `env`: RUN sees the stage's args and ENV as its environment, so they
 * enter its key (keyEnv); COPY/ADD/WORKDIR only see what their (already expanded) instruction text says, as in BuildKit.
 */
export function baseInputs(origin: StepOrigin, instruction: string, env: readonly (readonly [string, string])[] = []): StepMaterial {
  return {
    v: 1,
    parent: origin.parent,
    instruction: `${CACHE_RECORD_VERSION} ${instruction}${origin.epoch !== undefined ? ` epoch=${origin.epoch}` : ''}`,
    platform: formatPlatform(origin.platform),
    env,
    mounts: [],
    stepId: origin.stepId,
    parentKind: origin.parentKind,
    parentName: origin.parentName,
  };
}

/** The env a RUN's key sees, sorted by name: the stage's runEnv without proxy args (StageScope.runEnv({ includeProxy: false })). */
export function keyEnv(runEnv: ReadonlyMap<string, string>): [string, string][] {
  return [...runEnv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** WORKDIR's instruction text in the key: the directory and the user that will own it (`empty-diff=layer`: as runKey). */
export function workdirKey(dir: string, user: string): string {
  return `WORKDIR ${dir} user=${user} empty-diff=layer`;
}

export interface RunKeyOptions {
  readonly user: string;
  readonly cwd: string;
  readonly network: string;
  readonly security: 'sandbox' | 'insecure';
  /** The shebang heredoc the step runs as a file (plan's runCommand), when it does. */
  readonly script?: string;
  /** The sandbox hostname, when not the default (BUILDKIT_SANDBOX_HOSTNAME). */
  readonly hostname?: string;
  /** `--add-host` names (their IPs stay out of the key, as BuildKit's). */
  readonly hosts?: readonly string[];
  /** `--ulimit` values, `name=soft:hard`. */
  readonly ulimits?: readonly string[];
  /** `--shm-size` in bytes. */
  readonly shmSize?: number;
  /** `--cgroup-parent`. */
  readonly cgroupParent?: string;
}

/**
 * RUN's instruction text in the key: its argv (JSON), user, working dir, network, and when set `security=insecure`,
 * the script file's content, the hostname, --add-host names, --ulimit, --shm-size and --cgroup-parent (each part of
 * BuildKit's exec op cache map too). `empty-diff=layer` marks records made since a RUN that changes nothing gets an
 * (empty) layer, as in BuildKit; records of older builds, which have none, are not reused.
 */
export function runKey(args: readonly string[], o: RunKeyOptions): string {
  return `RUN ${JSON.stringify(args)} user=${o.user} cwd=${o.cwd} network=${o.network}${o.security === 'insecure' ? ' security=insecure' : ''} empty-diff=layer` +
    (o.script !== undefined ? ` script=${JSON.stringify(o.script)}` : '') + (o.hostname !== undefined ? ` hostname=${o.hostname}` : '') +
    (o.hosts?.length ? ` add-host=${o.hosts.join(',')}` : '') + (o.ulimits?.length ? ` ulimit=${o.ulimits.join(',')}` : '') +
    (o.shmSize !== undefined ? ` shm-size=${o.shmSize}` : '') + (o.cgroupParent !== undefined ? ` cgroup-parent=${o.cgroupParent}` : '');
}

/** The content of a stage's or image's filesystem in keys: its layers' diffIDs (`empty` for none). */
export function layersKey(diffIds: readonly string[]): string {
  return diffIds.join(',') || 'empty';
}

/**
 * A mount as it enters the step's key, given its source's content when it is a bind mount or a cache mount with
 * `from=` (`content`: the digest of the context files it selects, or layersKey of the source stage or image;
 * reading them is the executor's).
 */
export function mountMaterial(m: RunMount, content?: string): MountMaterial {
  const options: Record<string, string> = {};
  // BuildKit's ExecOp.CacheMap clears a cache mount's id and sharing (checkShouldClearCacheOpts): which cache a
  // step uses does not change its key.
  const cache = m.type === 'cache';
  for (const [k, v] of Object.entries(m)) if (!['type', 'target', 'source', 'from', 'id'].includes(k) && !(cache && k === 'sharing') && v !== undefined) options[k] = String(v);
  const source = m.type === 'bind' ? `${m.from ?? 'context'}:${m.source ?? '/'}@${content ?? ''}`
    : m.type === 'cache' && (m.from !== undefined || m.source !== undefined) ? `${m.from ?? ''}:${m.source ?? '/'}@${content ?? ''}` : undefined;
  return {
    type: m.type,
    target: m.target ?? '',
    ...(source !== undefined ? { source } : {}),
    ...(m.id !== undefined && !cache ? { id: m.id } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  };
}

/** A file ADD downloaded: its name and digest enter the key. */
export interface DownloadMaterial {
  readonly name: string;
  readonly digest: string;
}

/**
 * Revisions of what a COPY/ADD produces, named in its key only where they apply, so that a step whose result
 * changed cannot hit a record made before the change while every other key stays as it was.
 * `chmod-dirs`: directories a COPY --chmod=<octal> creates get that mode (they were 0755).
 * `parents-pivot`: COPY --parents honours the `/./` pivot, creates the destination for an empty match and gives
 * the directories above a match their source's metadata.
 * `special-files`: the context holds sockets, fifos or devices (`specials`: their kinds); a socket becomes an
 * empty regular file (it was left out).
 * `archive-root`: an archive ADD extracts leaves the destination's owner, mode and times alone (its `./` entry
 * set them); with --unpack=true a downloaded archive is extracted too (it was copied).
 * `tar-end`: ADD reads archives as Go's archive/tar: a file is one when its first block is a header with a valid
 * checksum (V7 too; it needed the ustar magic), and a truncated end-of-archive marker fails the step (it used to
 * end at the first zero block); under the same condition as `archive-root`.
 */
function copyRevisions(ins: CopyInstruction | AddInstruction, specials: string): string {
  const revs = [
    ins.chmod !== undefined && /^[0-7]+$/.test(ins.chmod) ? 'chmod-dirs' : '',
    ins.kind === 'copy' && ins.parents ? 'parents-pivot' : '',
    ins.kind === 'add' && (ins.unpack === true || (ins.unpack === undefined && ins.sources.some((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s)))) ? 'archive-root,tar-end' : '',
    specials ? `special-files:${specials}` : '',
  ].filter(Boolean);
  return revs.length > 0 ? ` rev=${revs.join(',')}` : '';
}

/**
 * COPY/ADD's instruction text in the key: flags, sources, heredoc names, destination and working dir; then the
 * source stage's layers (`src=`, for `--from`) and the heredoc bodies' and downloads' digests (`heredocs=`), and
 * the revisions of the copy rules that apply (copyRevisions; `specials`: the kinds of the non-regular,
 * non-directory, non-symlink context files it selects, e.g. `socket:a.sock`, empty for none).
 */
export function copyKey(ins: CopyInstruction | AddInstruction, cwd: string, from: { readonly name: string; readonly layers: string } | undefined, downloads: readonly DownloadMaterial[], specials = ''): string {
  const heredocs: readonly SourceContent[] = ins.sourceContents;
  const heredocKey = [...heredocs.map((h) => `${h.path}:${digestOf(h.data)}`), ...downloads.map((d) => `${d.name}:${d.digest}`)].join(',');
  const flags = [
    ins.chown ? `--chown=${ins.chown}` : '', ins.chmod ? `--chmod=${ins.chmod}` : '', ins.link ? '--link' : '',
    ...ins.exclude.map((e) => `--exclude=${e}`), from ? `--from=${from.name}` : '',
    ins.kind === 'copy' && ins.parents ? '--parents' : '',
    // Only when given, so the keys of every other COPY/ADD stay as they were.
    ins.kind === 'add' && ins.unpack !== undefined ? `--unpack=${ins.unpack}` : '',
  ].filter(Boolean);
  const instruction = `${ins.kind.toUpperCase()} ${[...flags, ...ins.sources, ...heredocs.map((h) => `<<${h.path}`), ins.dest].join(' ')} cwd=${cwd}`;
  return `${instruction} src=${from ? from.layers : ''} heredocs=${heredocKey}${copyRevisions(ins, specials)}`;
}

/** The parts of a copyKey: the visible instruction, then the source stage's layers, heredoc/download digests and revisions. */
function splitCopyKey(keyed: string): { head: string; src: string; heredocs: string; rev: string; epoch: string } | undefined {
  // baseInputs' frame: the record version first, the epoch last.
  const version = `${CACHE_RECORD_VERSION} `;
  if (!keyed.startsWith(version)) return undefined;
  const epochAt = / epoch=\d+$/.exec(keyed);
  const key = keyed.slice(version.length, epochAt ? epochAt.index : undefined);
  if (!key.startsWith('COPY ') && !key.startsWith('ADD ')) return undefined;
  const at = key.lastIndexOf(' src=');
  const h = at < 0 ? -1 : key.indexOf(' heredocs=', at);
  if (h < 0) return undefined;
  const r = key.indexOf(' rev=', h);
  return { head: key.slice(0, at), src: key.slice(at + 5, h), heredocs: key.slice(h + 10, r < 0 ? undefined : r), rev: r < 0 ? '' : key.slice(r + 5), epoch: epochAt?.[0] ?? '' };
}

/**
 * Names what changed between two COPY/ADD keys (copyKey) whose visible instruction is the same, for --explain:
 * the --from stage's files (its layers), a heredoc's or downloaded file's content, or the copy rules' revision.
 * undefined when the instruction text itself changed, or the keys are not COPY/ADD keys.
 */
export function copyKeyChange(before: string, now: string): MissReason | undefined {
  const a = splitCopyKey(before);
  const b = splitCopyKey(now);
  if (!a || !b || a.head !== b.head || a.epoch !== b.epoch) return undefined;
  const from = /(?:^| )--from=(\S+)/.exec(b.head)?.[1];
  if (a.src !== b.src) {
    const top = (l: string): string => { const d = l.split(',').at(-1) ?? l; return /^sha256:[0-9a-f]{64}$/.test(d) ? d.slice(0, 19) : d; };
    return { kind: 'file', detail: `the files of --from=${from ?? '?'} changed (its top layer ${top(a.src)} \u2192 ${top(b.src)})` };
  }
  if (a.heredocs !== b.heredocs) return { kind: 'file', detail: 'the content of a heredoc or downloaded file changed' };
  if (a.rev !== b.rev) return { kind: 'instruction', detail: 'the copy rules changed (a newer tsbuild copies this step differently)', before, now };
  return undefined;
}
