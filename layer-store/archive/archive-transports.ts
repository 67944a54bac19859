/**
 * skopeo's archive transports as copyImage ends: `oci-archive:FILE[:REF]` and `docker-archive:FILE[:REF]`, each an
 * ImageSource and an ImageDestination. Both unpack to, or assemble in, an OCI layout in a temp dir (oci-layout.ts)
 * and reuse the archive writers of save.ts; the temp dir is removed by close(), whatever happened.
 *
 * Digests: an OCI archive keeps manifests byte for byte. A docker-archive has no manifest at all (manifest.json
 * lists a config and uncompressed layer tars), so reading one synthesises an OCI manifest (uncompressed layers,
 * digest = diffID) and writing one keeps only the config: the image ID (config digest) survives a round trip,
 * the manifest digest cannot, as with skopeo.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  MediaTypes, TsbuildError, digestOf, isIndexType, imageLayers, parseConfig, parseJson, parseManifest, verifyStream,
  type Abortable, type Descriptor, type Digest, type ImageDestination, type ImageSource, type RawManifest, type ImageManifest,
} from '../core/index.js';
import { encodeDocument } from '../image/index.js';
import { putBlob } from '../store/blobs.js';
import { StoreLayout } from '../store/layout.js';
import { normalizeTagName } from '../store/reference.js';
import { layoutBlobs, ociLayoutDestination, ociLayoutSource } from './oci-layout.js';
import { checkInputFile, checkOutputFile } from './paths.js';
import { readArchiveFiles } from './archive-entries.js';
import { writeDockerArchiveTar, writeOciLayoutTar } from './save.js';

/** tar-stream loads on first use. */

/** Where an archive ref points inside the file: a name, or (docker-archive) the n-th image of manifest.json. */
export interface ArchiveRef {
  readonly name?: string | undefined;
  readonly index?: number | undefined;
}

function archiveError(file: string, what: string, cause?: unknown): TsbuildError {
  return new TsbuildError('INVALID_MANIFEST', `${what} in archive`, {
    location: { ref: file }, hint: 'give an archive written by skopeo, docker save, podman save or tsbuild', ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * Unpacks the regular files of the tar `file` into `dir` (names normalised; absolute or `..` names are refused)
 * and returns its symlinks (name → target, resolved to archive paths). `blobs/sha256/<hex>` entries are
 * verified against their names as they are written.
 */
async function unpackArchive(file: string, dir: string, o: Abortable): Promise<Map<string, string>> {
  await checkInputFile(file, { verb: 'copy', noun: 'archive', expect: 'give a tar written by skopeo copy, docker save or tsbuild save' });
  const layout = new StoreLayout(dir);
  return readArchiveFiles(createReadStream(file), (what, cause) => archiveError(file, what, cause), async ({ name, digest, entry }) => {
    if (digest) {
      await mkdir(layout.blobsDir, { recursive: true });
      await putBlob(layout, Readable.from(entry), { digest, size: entry.header.size ?? 0 }, o);
    } else {
      await mkdir(join(dir, posix.dirname(name)), { recursive: true });
      await pipeline(entry, createWriteStream(join(dir, name), { flags: 'wx' }));
    }
  }, { ...o, refuseUnsafeNames: true });
}

/** Returns a new temp dir for an archive's unpacked or assembled layout (removed by the end's close()). */
function scratchDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tsbuild-archive-'));
}

/** Returns the image `ref` names in the OCI archive `file` (its tag, else `latest` or the only entry). */
export async function ociArchiveSource(file: string, ref: ArchiveRef = {}, o: Abortable = {}): Promise<ImageSource> {
  const dir = await scratchDir();
  try {
    await unpackArchive(file, dir, o);
    const src = await ociLayoutSource(dir, { tag: ref.name });
    return { ...src, ref: `oci-archive:${file}${ref.name ? `:${ref.name}` : ''}`, close: () => rm(dir, { recursive: true, force: true }) };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Returns a destination writing a new OCI archive `file` (replacing one there, as skopeo does) holding the copied
 * image under `ref.name` (ref.name annotation). Nothing appears at `file` before commit, which renames the
 * finished tar into place.
 */
export async function ociArchiveDestination(file: string, ref: ArchiveRef = {}): Promise<ImageDestination> {
  const abs = await checkOutputFile(file);
  const dir = await scratchDir();
  const inner = await ociLayoutDestination(dir, { tag: ref.name });
  return {
    ...inner,
    ref: `oci-archive:${file}${ref.name ? `:${ref.name}` : ''}`,
    commit: async (tags: readonly string[], o?: Abortable) => {
      await inner.commit(tags, o);
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
      const blobs = new Set<Digest>();
      const reader = layoutBlobs(dir);
      const walk = async (d: Descriptor): Promise<void> => {
        blobs.add(d.digest);
        if (!d.mediaType.includes('manifest') && !isIndexType(d.mediaType)) return;
        const p = parseManifest(await reader.read(d.digest), d.mediaType, d.digest);
        if (p.kind === 'index') for (const c of p.index.manifests) await walk(c);
        else for (const c of [p.manifest.config, ...p.manifest.layers]) blobs.add(c.digest);
      };
      for (const m of index.manifests) await walk(m);
      await writeAtomically(abs, (tmp) => writeOciLayoutTar(tmp, index.manifests, blobs, reader, o ?? {}));
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Runs `write(tmp)` for a temp file beside `abs`, then renames it onto `abs`; the temp file never survives. */
async function writeAtomically(abs: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = join(dirname(abs), `.${randomUUID()}.tmp`);
  try {
    await write(tmp);
    await rename(tmp, abs);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

interface DockerManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * Returns the image `ref` picks in the docker-archive `file` (by name, by `@N` position in manifest.json, or the
 * only one), read through a synthesised OCI manifest: config as is, each layer tar uncompressed with digest =
 * its diffID. Every blob is verified as it is read.
 */
export async function dockerArchiveSource(file: string, ref: ArchiveRef = {}, o: Abortable = {}): Promise<ImageSource> {
  const dir = await scratchDir();
  try {
    const links = await unpackArchive(file, dir, o);
    const resolveLink = (n: string): string => {
      let cur = posix.normalize(n);
      for (let i = 0; i < 16 && links.has(cur); i++) cur = links.get(cur)!;
      return cur;
    };
    let items: DockerManifestItem[];
    try {
      items = parseJson(await readFile(join(dir, 'manifest.json')), 'manifest.json', file) as DockerManifestItem[];
    } catch (e) {
      throw archiveError(file, 'no manifest.json', e);
    }
    if (!Array.isArray(items) || items.length === 0) throw archiveError(file, 'manifest.json lists no image');
    let item: DockerManifestItem | undefined;
    if (ref.index !== undefined) item = items[ref.index];
    else if (ref.name !== undefined) {
      const want = normalizeTagName(ref.name);
      item = items.find((i) => (i.RepoTags ?? []).some((t) => normalizeTagName(t) === want));
    } else if (items.length === 1) item = items[0];
    if (!item) {
      throw new TsbuildError('IMAGE_NOT_FOUND', `no image ${ref.name ?? (ref.index !== undefined ? `@${ref.index}` : '')} in the docker-archive ${file}`, {
        location: { ref: file }, hint: `it has ${items.length} images (${items.map((i, n) => (i.RepoTags ?? [])[0] ?? `@${n}`).join(', ')}): name one as docker-archive:FILE:NAME or docker-archive:FILE:@N`,
      });
    }
    const files = new Map<Digest, string>();
    const cfgPath = join(dir, resolveLink(item.Config));
    const cfgBytes = await readFile(cfgPath).catch((e: unknown) => { throw archiveError(file, `config ${item.Config} missing`, e); });
    const config = parseConfig(cfgBytes, `${file}:${item.Config}`);
    const cfgDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(cfgBytes), size: cfgBytes.length };
    files.set(cfgDesc.digest, cfgPath);
    if (config.rootfs.diff_ids.length !== item.Layers.length) throw archiveError(file, `${item.Config} lists ${config.rootfs.diff_ids.length} diff_ids but manifest.json ${item.Layers.length} layers`);
    const layers: Descriptor[] = [];
    for (const [i, l] of item.Layers.entries()) {
      const n = resolveLink(l);
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(n);
      const path = m ? new StoreLayout(dir).blobPath(`sha256:${m[1]}` as Digest) : join(dir, n);
      const size = (await stat(path).catch((e: unknown) => { throw archiveError(file, `layer ${l} missing`, e); })).size;
      const diffId = config.rootfs.diff_ids[i]!;
      files.set(diffId, path);
      layers.push({ mediaType: MediaTypes.ociLayer, digest: diffId, size });
    }
    const man = encodeDocument({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: cfgDesc, layers } as ImageManifest, MediaTypes.ociManifest);
    const top: RawManifest = { mediaType: man.mediaType, bytes: man.bytes, digest: man.digest };
    return {
      ref: `docker-archive:${file}${ref.name ? `:${ref.name}` : ref.index !== undefined ? `:@${ref.index}` : ''}`,
      getManifest: async (d?: Digest) => {
        if (d !== undefined && d !== top.digest) throw new TsbuildError('IMAGE_NOT_FOUND', `no manifest ${d} in the docker-archive ${file}`, { location: { ref: file } });
        return top;
      },
      getBlob: async (d: Descriptor) => {
        const path = files.get(d.digest);
        if (!path) throw new TsbuildError('BLOB_NOT_FOUND', `no blob ${d.digest} in the docker-archive ${file}`, { location: { ref: file } });
        const s = createReadStream(path);
        const v = verifyStream(d);
        void pipeline(s, v).catch(() => undefined);
        return v;
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Returns a destination writing a new docker-archive `file` (replacing one there) holding the one image copied,
 * named `ref.name` in manifest.json's RepoTags. An index cannot go into a docker-archive: putManifest refuses one
 * (copy a single platform). Layers are decompressed into the archive; the manifest itself is not kept.
 */
export async function dockerArchiveDestination(file: string, ref: ArchiveRef = {}): Promise<ImageDestination> {
  const abs = await checkOutputFile(file);
  if (ref.index !== undefined) throw new TsbuildError('USAGE', `docker-archive:${file}:@${ref.index}: a position can only be read`, { hint: 'name the image instead: docker-archive:FILE:NAME[:TAG]' });
  const names = ref.name !== undefined ? [normalizeTagName(ref.name)] : [];
  const dir = await scratchDir();
  const inner = await ociLayoutDestination(dir);
  let last: RawManifest | undefined;
  return {
    ...inner,
    singleImage: true,
    ref: `docker-archive:${file}${ref.name ? `:${ref.name}` : ''}`,
    putManifest: async (raw: RawManifest, o?: Abortable) => {
      if (isIndexType(parseManifest(raw.bytes, raw.mediaType, raw.digest).mediaType)) {
        throw new TsbuildError('USAGE', `a docker-archive holds one image, not an index (docker-archive:${file})`, {
          location: { ref: file }, hint: 'copy one platform (--platform os/arch), or use oci-archive: to keep every platform',
        });
      }
      await inner.putManifest(raw, o);
      last = raw;
    },
    commit: async (tags: readonly string[], o?: Abortable) => {
      if (!last) throw new TsbuildError('USAGE', 'commit called before any manifest was put', { hint: 'call putManifest first (blobs → manifests → commit)' });
      const p = parseManifest(last.bytes, last.mediaType, last.digest);
      if (p.kind !== 'manifest') throw new TsbuildError('USAGE', 'a docker-archive holds one image', { location: { ref: file } });
      const reader = layoutBlobs(dir);
      const config = parseConfig(await reader.read(p.manifest.config.digest), p.manifest.config.digest);
      const all = [...names, ...tags.map((t) => normalizeTagName(t))];
      await writeAtomically(abs, (tmp) => writeDockerArchiveTar(tmp, [{ id: p.manifest.config.digest, names: all, layers: imageLayers(p.manifest, config, file) }], reader, o ?? {}));
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
