/**
 * `manifest create` / `manifest push`: assemble an image index (manifest list) from images that are already in
 * a registry, as `docker manifest` does. A created list is kept under `<root>/manifests/` (not in the image store,
 * whose entries must be complete locally) until it is pushed.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import {
  MediaTypes, TsbuildError, copyImage, digestOf, isIndexType, rootLayout, writeFileAtomic,
  type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest,
} from '../layer-store/index.js';
import { formatReference, parseReference, type RegistryClient, type Reference } from '../registry-client/index.js';

interface StoredList {
  readonly name: string;
  readonly index: ImageIndex;
  /** Where each child (by digest) lives now. */
  readonly sources: Record<string, string>;
}

/** Returns `<root>/manifests/<32 hex>.json`, where the list `name` (normalised) is kept (StoreLayout.manifestListPath). */
function listPath(root: string, name: string): string {
  return rootLayout(root).manifestListPath(formatReference(parseReference(name)));
}

/** Returns the descriptor (with platform) of every image `ref` names: one for an image, each child for an index. */
async function childrenOf(reg: RegistryClient, ref: Reference): Promise<Descriptor[]> {
  const src = reg.source(ref);
  const top = await src.getManifest();
  const doc = JSON.parse(Buffer.from(top.bytes).toString('utf8')) as ImageIndex & ImageManifest;
  if (isIndexType(top.mediaType)) return doc.manifests.filter((m) => m.platform !== undefined);
  const cfgStream = await src.getBlob(doc.config);
  const chunks: Buffer[] = [];
  for await (const c of cfgStream) chunks.push(c as Buffer);
  const cfg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ImageConfig;
  return [{
    mediaType: top.mediaType, digest: top.digest, size: top.bytes.length,
    platform: { os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) },
  }];
}

/** Creates (or with `amend`, extends) the list `name` from `refs`; returns the index. */
export async function createManifestList(root: string, reg: RegistryClient, name: string, refs: readonly string[], o: { amend?: boolean } = {}): Promise<ImageIndex> {
  const file = listPath(root, name);
  let existing: StoredList | undefined;
  try {
    existing = JSON.parse(await readFile(file, 'utf8')) as StoredList;
  } catch {
    existing = undefined;
  }
  if (existing && !o.amend) throw new TsbuildError('CONFLICT', `manifest list ${name} already exists`, { location: { ref: name }, hint: 'use --amend to add to it, or `tsbuild manifest rm` it first' });
  const manifests: Descriptor[] = [...(existing?.index.manifests ?? [])];
  const sources: Record<string, string> = { ...(existing?.sources ?? {}) };
  for (const r of refs) {
    const ref = parseReference(r);
    for (const d of await childrenOf(reg, ref)) {
      const i = manifests.findIndex((m) => JSON.stringify(m.platform) === JSON.stringify(d.platform));
      if (i >= 0) manifests.splice(i, 1);
      manifests.push(d);
      sources[d.digest] = formatReference({ registry: ref.registry, repository: ref.repository });
    }
  }
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
  await mkdir(rootLayout(root).manifestListsDir, { recursive: true });
  await writeFileAtomic(file, JSON.stringify({ name, index, sources } satisfies StoredList));
  return index;
}

/** Pushes the list: children from other repositories are copied (blobs stream registry to registry), then the index. */
export async function pushManifestList(root: string, reg: RegistryClient, name: string, o: { purge?: boolean } = {}): Promise<string> {
  let list: StoredList;
  try {
    list = JSON.parse(await readFile(listPath(root, name), 'utf8')) as StoredList;
  } catch {
    throw new TsbuildError('IMAGE_NOT_FOUND', `no manifest list ${name}`, { location: { ref: name }, hint: 'create it with `tsbuild manifest create LIST REF…`' });
  }
  const target = parseReference(name);
  const targetRepo = formatReference({ registry: target.registry, repository: target.repository });
  for (const d of list.index.manifests) {
    const from = list.sources[d.digest];
    if (!from || from === targetRepo) continue;
    await copyImage(reg.source(parseReference(`${from}@${d.digest}`)), reg.destination(parseReference(`${targetRepo}@${d.digest}`)), {});
  }
  const bytes = Buffer.from(JSON.stringify(list.index));
  const dst = reg.destination(target);
  await dst.putManifest({ mediaType: MediaTypes.ociIndex, bytes, digest: digestOf(bytes) });
  await dst.commit([]);
  if (o.purge) await rm(listPath(root, name), { force: true });
  return digestOf(bytes);
}

/** Removes a local (unpushed) list; returns false when there was none. */
export async function removeManifestList(root: string, name: string): Promise<boolean> {
  const f = listPath(root, name);
  try {
    await readFile(f);
  } catch {
    return false;
  }
  await rm(f, { force: true });
  return true;
}
