import { stat } from 'node:fs/promises';
import { formatPlatform, isAttestationManifest, type Descriptor, type Digest, type HistoryEntry, type Platform } from '../core/index.js';
import { configPlatform } from '../image/index.js';
import type { StoredImage } from './resolve.js';
import type { LayerStore } from './store.js';

/** One row of `tsbuild images`. */
export interface ImageSummary {
  readonly kind: 'image' | 'index';
  /** Image ID: the config digest (for an index, the index digest). */
  readonly id: Digest;
  readonly descriptor: Descriptor;
  /** Normalised names; empty for a dangling image. */
  readonly names: readonly string[];
  readonly created?: string;
  /** Bytes of every distinct blob the image references as stored (compressed layers). */
  readonly size: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly platforms: readonly string[];
}

/** Returns a summary of every top-level object in the store, in index order; unreadable ones are skipped. */
export async function listImageSummaries(store: LayerStore): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const e of await store.listImages()) {
    const obj = await store.load(e.descriptor, e.names).catch((err: unknown) => {
      store.logger.warn('skipping unreadable image', { digest: e.descriptor.digest, error: String(err) });
      return undefined;
    });
    if (!obj) continue;
    let size = 0;
    for (const d of await store.references(e.descriptor, { tolerateMissing: true })) {
      size += (await stat(store.blobPath(d)).catch(() => undefined))?.size ?? 0;
    }
    if (obj.kind === 'image') {
      out.push({
        kind: 'image', id: obj.id, descriptor: e.descriptor, names: e.names, size,
        ...(obj.config.created !== undefined ? { created: obj.config.created } : {}),
        labels: obj.config.config?.Labels ?? {}, platforms: [formatPlatform(configPlatform(obj.config))],
      });
    } else {
      // An index of one image and its attestations shows that image's time and labels.
      const imgs = obj.index.manifests.filter((m) => !isAttestationManifest(m));
      const only = imgs.length === 1 && imgs.length < obj.index.manifests.length ? await store.load(imgs[0]!).catch(() => undefined) : undefined;
      const one = only?.kind === 'image' ? only : undefined;
      out.push({
        kind: 'index', id: obj.id, descriptor: e.descriptor, names: e.names, size, labels: one?.config.config?.Labels ?? {},
        ...(one?.config.created !== undefined ? { created: one.config.created } : {}),
        platforms: obj.index.manifests.filter((m) => m.platform && !isAttestationManifest(m)).map((m) => formatPlatform(m.platform as Platform)),
      });
    }
  }
  return out;
}

/** One row of `tsbuild history`, newest first (as docker prints it). */
export interface HistoryRow {
  readonly created?: string;
  readonly createdBy: string;
  readonly comment?: string;
  readonly emptyLayer: boolean;
  /** The layer this entry produced (undefined for an empty layer). */
  readonly layer?: Descriptor;
  readonly diffId?: Digest;
}

/** Returns the image's history with each non-empty entry matched to its layer, newest first. */
export function imageHistory(img: StoredImage): HistoryRow[] {
  const hist: readonly HistoryEntry[] = img.config.history ?? img.config.rootfs.diff_ids.map(() => ({}));
  let li = 0;
  const rows: HistoryRow[] = hist.map((h) => {
    const empty = h.empty_layer === true;
    const layer = empty ? undefined : img.manifest.layers[li];
    const diffId = empty ? undefined : img.config.rootfs.diff_ids[li];
    if (!empty) li++;
    return {
      ...(h.created !== undefined ? { created: h.created } : {}),
      createdBy: h.created_by ?? '',
      ...(h.comment !== undefined ? { comment: h.comment } : {}),
      emptyLayer: empty,
      ...(layer ? { layer } : {}),
      ...(diffId ? { diffId } : {}),
    };
  });
  return rows.reverse();
}
