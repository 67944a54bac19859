/**
 * Committing the image, last: the config (created time, --label values, rootfs), the manifest (each layer's blob,
 * waiting for layers still being compressed), then the tags. A rebuild whose manifest the tags already name
 * writes nothing. Left behind on failure: only blobs, leased by the build and unreferenced by any tag.
 */
import { MediaTypes, digestOf, type Descriptor, type ImageManifest } from '../../layer-store/index.js';
import type { ResolvedStage } from '../frontend/index.js';
import { cc } from '../plan/index.js';
import { descriptorOf, diffIdsOf, settledLayer, type BuildCtx, type StageState } from './context.js';
import type { BuildResult } from './options.js';

/** Writes the final stage `st` as an image, tags it, and returns the build's result (with its cache records). */
export async function commitImage(ctx: BuildCtx, st: StageState): Promise<BuildResult> {
  const config = st.config;
  config.created = st.time;
  if (ctx.o.labels && Object.keys(ctx.o.labels).length > 0) {
    const c = cc(config);
    c.Labels = { ...(c.Labels ?? {}), ...ctx.o.labels };
  }
  config.rootfs = { type: 'layers', diff_ids: await diffIdsOf(st.layers) };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = { digest: digestOf(configBytes), size: configBytes.length };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configDesc.digest, size: configDesc.size },
    layers: await Promise.all(st.layers.map(async (l) => descriptorOf(await settledLayer(l)))),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const mdesc = { digest: digestOf(manifestBytes), size: manifestBytes.length };
  const tags = ctx.o.tags ?? [];
  // A rebuild that changed nothing names the image its tags already name: those names pin its blobs (gc keeps
  // them), so there is nothing to lease, write or re-tag. Otherwise: lease, write config and manifest, tag.
  if (!(tags.length > 0 && await ctx.o.store.namesPointAt(tags, mdesc.digest))) {
    await ctx.lease.add({ blobs: [configDesc.digest, mdesc.digest] });
    await ctx.o.store.putBytes(configBytes, { mediaType: MediaTypes.ociConfig, digest: configDesc.digest, size: configDesc.size });
    await ctx.o.store.putBytes(manifestBytes, { mediaType: MediaTypes.ociManifest, digest: mdesc.digest, size: mdesc.size });
  }
  const desc: Descriptor = {
    mediaType: MediaTypes.ociManifest, digest: mdesc.digest, size: mdesc.size,
    platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
  };
  if (tags.length > 0 || ctx.o.recordUntagged !== false) await ctx.o.store.tagMany(tags, desc);
  // mode=min: the target stage and the stages it is FROM (not COPY --from sources), base first.
  const chain: number[] = [];
  for (let s: ResolvedStage | undefined = ctx.graph.order.find((x) => x.index === ctx.graph.target); s; ) {
    chain.unshift(s.index);
    const b = s.base;
    s = b.kind === 'stage' ? ctx.graph.order.find((x) => x.index === b.index) : undefined;
  }
  return {
    manifest: desc, imageDigest: mdesc.digest, configDigest: configDesc.digest, config, tags, steps: ctx.steps,
    finalRecords: chain.flatMap((i) => ctx.records.get(i) ?? []),
    allRecords: [...ctx.records.values()].flat(),
    cacheMounts: [...ctx.cacheMountsUsed].map(([id, dir]) => ({ id, dir })),
  };
}
