/**
 * Multi-platform builds: the target is built once per platform (sequentially, so that steps that do not depend
 * on the platform, such as `FROM --platform=$BUILDPLATFORM` stages, are built once and then hit the cache), and
 * an OCI image index naming each platform's manifest is committed and tagged.
 */
import { Lease, MediaTypes, digestOf, formatPlatform, type Descriptor, type Digest, type ImageIndex, type Platform } from '../../layer-store/index.js';
import { build, type BuildOptions, type BuildResult } from './build.js';

export interface MultiBuildResult {
  /** The index descriptor (what `--push` and `@sha256:` refer to). */
  readonly index: Descriptor;
  readonly indexDigest: Digest;
  /** One result per platform, in the order asked. */
  readonly platforms: readonly (BuildResult & { readonly platform: Platform })[];
  readonly tags: readonly string[];
}

/** Builds `o` for every platform in `platforms` and tags the resulting index; children stay unnamed. */
export async function buildPlatforms(o: BuildOptions & { readonly platforms: readonly Platform[] }): Promise<MultiBuildResult> {
  const results: (BuildResult & { platform: Platform })[] = [];
  // One lease over every platform's build: each child image stays unnamed until the index is tagged, and a
  // prune in between must not take it.
  const lease = o.lease ?? await Lease.acquire(o.store.root, o.signal ? { signal: o.signal } : {});
  try {
    return await buildAll(o, lease, results);
  } finally {
    if (!o.lease) await lease.release();
  }
}

async function buildAll(o: BuildOptions & { readonly platforms: readonly Platform[] }, lease: Lease, results: (BuildResult & { platform: Platform })[]): Promise<MultiBuildResult> {
  for (const platform of o.platforms) {
    const label = formatPlatform(platform);
    const events = o.events;
    const r = await build({
      ...o,
      platform,
      tags: [],
      recordUntagged: false,
      lease,
      checks: o.checks !== false && platform === o.platforms[0], // once, as BuildKit warns for the first platform only
      ...(events ? {
        events: (e) => {
          if (e.type === 'info' && e.data?.frontend && platform !== o.platforms[0]) return; // the frontend is said once
          if ('id' in e && typeof e.id === 'string') {
            const id = `${label}|${e.id}`;
            events(e.type === 'step.start' ? { ...e, id, name: e.name.replace(/^\[/, `[${label} `) } : { ...e, id } as typeof e);
          } else {
            events(e);
          }
        },
      } : {}),
    });
    results.push({ ...r, platform });
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: results.map((r) => r.manifest) };
  const bytes = Buffer.from(JSON.stringify(index));
  await lease.add({ blobs: [digestOf(bytes)] });
  const d = await o.store.putBytes(bytes, { mediaType: MediaTypes.ociIndex });
  const desc: Descriptor = { mediaType: MediaTypes.ociIndex, digest: d.digest, size: d.size };
  if ((o.tags ?? []).length > 0 || o.recordUntagged !== false) await o.store.tagMany(o.tags ?? [], desc);
  return { index: desc, indexDigest: d.digest, platforms: results, tags: o.tags ?? [] };
}
