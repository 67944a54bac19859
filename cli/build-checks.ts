/**
 * The checks `tsbuild build` runs on its flags before anything is opened, read or run: every value that would
 * otherwise fail only after the build (a tag, a push target, a cache reference, an output name, a platform, the
 * directory of --iidfile/--metadata-file) fails first, as one usage error naming the flag, the value and the fix.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  TsbuildError, formatPlatform, normalizeTagName, parsePlatform, withLocation, type Platform,
} from '../layer-store/index.js';
import { parseReference } from '../registry-client/index.js';
import type { CacheSpec, OutputSpec } from '../builder/index.js';

const TAG_HINT = 'write NAME[:TAG] with a lowercase name, e.g. app:1.0 or localhost:5000/team/app:1.0';

/** The reason a reference parser gave (both InvalidReferenceError classes carry `reason`), else the message. */
function reasonOf(e: unknown): string {
  const r = (e as { reason?: unknown }).reason;
  return typeof r === 'string' ? r : e instanceof Error ? e.message : String(e);
}

/**
 * Returns `name` normalised as the store will tag it (`busybox` → `docker.io/library/busybox:latest`); with
 * `push`, also parsed as a registry reference. Throws a USAGE error in docker's words (`invalid reference
 * format`) naming the flag that carried it (`flag` is written right before the value: `-t `, `name=`).
 */
export function checkTag(name: string, flag: string, push: boolean): string {
  try {
    const n = normalizeTagName(name);
    if (push) parseReference(name);
    return n;
  } catch (e) {
    if (!TsbuildError.is(e) || e.code !== 'INVALID_REFERENCE') throw e;
    throw new TsbuildError('USAGE', `invalid tag ${JSON.stringify(name)}: invalid reference format: ${reasonOf(e)}`, {
      location: { ref: `${flag}${name}` }, hint: TAG_HINT, cause: e,
    });
  }
}

/** Throws a USAGE error unless `ref` (a `--cache-from`/`--cache-to` registry ref) is a valid reference. */
function checkCacheRef(ref: string, flag: string): void {
  try {
    parseReference(ref);
  } catch (e) {
    if (!TsbuildError.is(e) || e.code !== 'INVALID_REFERENCE') throw e;
    throw new TsbuildError('USAGE', `invalid ${flag} ref ${JSON.stringify(ref)}: invalid reference format: ${reasonOf(e)}`, {
      location: { ref: `${flag} type=registry,ref=${ref}` }, hint: `write ${flag} type=registry,ref=REGISTRY/REPO:TAG with a lowercase name`, cause: e,
    });
  }
}

/**
 * Returns the target platforms of `--platform a,b,…` (empty: the host's), each parsed and checked: a known
 * OS/architecture/variant, and linux, since every RUN step runs a Linux container. Touches no network.
 */
export function checkBuildPlatforms(flag: string | undefined): Platform[] {
  const out: Platform[] = [];
  for (const s of (flag ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    let p: Platform;
    try {
      p = parsePlatform(s);
    } catch (e) {
      throw withLocation(e, { ref: `--platform ${s}` });
    }
    if (p.os !== 'linux') {
      throw new TsbuildError('USAGE', `unknown platform ${JSON.stringify(s)} for a build: tsbuild builds linux images only`, {
        location: { ref: `--platform ${s}` },
        hint: `use linux/${p.architecture}${p.variant ? '/' + p.variant : ''} or another linux platform, e.g. linux/amd64, linux/arm64, linux/arm/v7`,
      });
    }
    if (!out.some((q) => formatPlatform(q) === formatPlatform(p))) out.push(p);
  }
  return out;
}

/** Throws a USAGE error unless the directory that will hold `file` (written after the build) exists. */
async function checkParentDir(file: string, flag: string): Promise<void> {
  const dir = dirname(resolve(file));
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new TsbuildError('USAGE', `${flag} ${file}: directory ${dir} does not exist`, {
      location: { ref: `${flag} ${file}` }, hint: `create ${dir} first, or write the file elsewhere`,
    });
  }
}

export interface BuildFlagsToCheck {
  readonly tags: readonly string[];
  readonly push: boolean;
  readonly outputs: readonly OutputSpec[];
  readonly cacheFrom: readonly CacheSpec[];
  readonly cacheTo: readonly CacheSpec[];
  readonly iidfile?: string | undefined;
  readonly metadataFile?: string | undefined;
}

/**
 * Returns the image's names (-t, then each `-o type=image,name=`) after checking every flag value that is used
 * only once the build has finished; throws the first bad one as a USAGE error (exit 2), before any work.
 */
export async function checkBuildFlags(f: BuildFlagsToCheck): Promise<string[]> {
  const names: string[] = [];
  for (const t of f.tags) { checkTag(t, '-t ', f.push); names.push(t); }
  for (const o of f.outputs) {
    if (o.type !== 'image' && o.type !== 'oci' && o.type !== 'docker') continue;
    const push = o.type === 'image' && (f.push || o.push === true);
    for (const n of o.names ?? []) { checkTag(n, `--output type=${o.type},name=`, push); if (o.type === 'image') names.push(n); }
  }
  for (const c of f.cacheFrom) if (c.type === 'registry') checkCacheRef(c.ref, '--cache-from');
  for (const c of f.cacheTo) if (c.type === 'registry') checkCacheRef(c.ref, '--cache-to');
  if (f.iidfile !== undefined) await checkParentDir(f.iidfile, '--iidfile');
  if (f.metadataFile !== undefined) await checkParentDir(f.metadataFile, '--metadata-file');
  return [...new Set(names)];
}
