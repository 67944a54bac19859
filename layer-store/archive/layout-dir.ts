/**
 * An OCI image layout written as a directory (BuildKit's `-o type=oci,tar=false,dest=DIR`): `oci-layout`,
 * `blobs/sha256/*`, `index.json`. An existing layout there is added to, as BuildKit's exporter adds to its local
 * content store: blobs already present are kept, and an index.json entry with a name the new images carry is
 * replaced. Readable as `oci:DIR[:NAME]` by skopeo and umoci.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { MediaTypes, digestHex, parseJson, type Abortable, type Descriptor, type Digest } from '../core/index.js';
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION, writeFileAtomic, type LayerStore } from '../store/index.js';
import type { ArchiveEntry } from './save.js';

/** Returns the name an index.json entry carries, if any. */
function nameOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME_ANNOTATION];
}

/**
 * Writes `entries` (with everything they reference) into the OCI layout directory `dir`, creating it. Each blob is
 * streamed from the store (digest-verified) into a temp file and renamed into place; index.json is written last,
 * atomically, so a failure leaves the previous index.json (and perhaps unreferenced blobs).
 */
export async function writeLayoutDir(store: LayerStore, entries: readonly ArchiveEntry[], dir: string, o: Abortable = {}): Promise<void> {
  const blobsDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobsDir, { recursive: true });
  const blobs = new Set<Digest>();
  for (const e of entries) for (const d of await store.references(e.descriptor)) blobs.add(d);
  for (const d of [...blobs].sort()) {
    const path = join(blobsDir, digestHex(d));
    if (await stat(path).then((s) => s.isFile(), () => false)) continue;
    const tmp = join(blobsDir, `.${randomUUID()}.tmp`);
    try {
      await pipeline(store.openBlob(d, o), createWriteStream(tmp, { flags: 'wx' }), o.signal ? { signal: o.signal } : {});
      await rename(tmp, path);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }
  const added: Descriptor[] = [];
  for (const { descriptor: d, names } of entries) {
    const plain: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.annotations ? { annotations: d.annotations } : {}) };
    if (names.length === 0) added.push(plain);
    for (const n of names) added.push({ ...plain, annotations: { ...d.annotations, [REF_NAME_ANNOTATION]: n, [CONTAINERD_NAME_ANNOTATION]: n } });
  }
  const before = await readFile(join(dir, 'index.json')).then((b) => (parseJson(b, 'index.json', dir) as { manifests?: Descriptor[] }).manifests ?? [], () => []);
  const newNames = new Set(added.map(nameOf).filter((n) => n !== undefined));
  const kept = before.filter((m) => {
    const n = nameOf(m);
    return n === undefined ? !added.some((a) => a.digest === m.digest && nameOf(a) === undefined) : !newNames.has(n);
  });
  await writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [...kept, ...added] }));
}
