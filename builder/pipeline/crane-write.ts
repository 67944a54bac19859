/**
 * crane's write verbs over any transport: flatten (one layer), append (a layer tar on top) and mutate (config
 * edits). Each builds the new config, layer and manifest beside the base image, then commits it through the one
 * generic copy (copyImage) from a source that serves the new blobs and the base's unchanged ones.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  MediaTypes, TsbuildError, copyImage, detectCompression, hashStream, tarChecked, verifyStream,
  type Abortable, type ContainerConfig, type Descriptor, type Digest, type ImageConfig, type ImageSource, type RawManifest,
} from '../../layer-store/index.js';
import { digestOf } from '../../layer-store/index.js';
import { exportFilesystem, resolveImage, withSource, type CraneReadOptions, type ResolvedImage } from './crane-read.js';
import { openImageDestination, parseImageLocation } from './transports.js';

/** Where and under what name the new image goes. */
export interface CraneWriteOptions extends CraneReadOptions {
  /** The destination: a transport reference or a bare name (a registry host: the registry, else the store). */
  readonly tag: string;
}

export interface CraneWriteResult {
  /** The destination as given back to the user (`REF@sha256:…` prints it). */
  readonly ref: string;
  readonly digest: Digest;
}

/** A gzipped layer written to a temp file, both identities known. */
interface LayerFile { readonly file: string; readonly digest: Digest; readonly diffId: Digest; readonly size: number }

/**
 * Returns the layer made from the tar stream `input` (`compression`: how it arrives), written gzipped to `file`:
 * the input is read as a tar on the way (a stream that is not a tar fails), which also gives the diffID.
 */
async function writeLayerFile(input: Readable, compression: 'gzip' | 'none', file: string, o: Abortable): Promise<LayerFile> {
  const check = tarChecked(compression);
  check.diffId.catch(() => undefined);
  const hash = hashStream();
  await pipeline([input, check, ...(compression === 'none' ? [createGzip()] : []), hash, createWriteStream(file, { flags: 'wx' })], o.signal ? { signal: o.signal } : {});
  const { digest, size } = await hash.result;
  return { file, digest, diffId: await check.diffId, size };
}

/** Commits the image `base` changed to `config` with `layers` (replacing the base's when `replace`) at `o.tag`. */
async function commitDerived(src: ImageSource, base: ResolvedImage, config: ImageConfig, added: readonly LayerFile[], replace: boolean, o: CraneWriteOptions): Promise<CraneWriteResult> {
  const docker = base.raw.mediaType === MediaTypes.dockerManifest;
  const layerType = docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip;
  const newLayers: Descriptor[] = added.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size }));
  const cfgBytes = Buffer.from(JSON.stringify(config));
  const cfgDesc: Descriptor = { mediaType: base.manifest.config.mediaType, digest: digestOf(cfgBytes), size: cfgBytes.length };
  const manifest = { ...base.manifest, config: cfgDesc, layers: [...(replace ? [] : base.manifest.layers), ...newLayers] };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const raw: RawManifest = { mediaType: base.raw.mediaType, bytes, digest: digestOf(bytes) };
  const files = new Map(added.map((l) => [l.digest, l]));
  const derived: ImageSource = {
    ref: `${src.ref} (changed)`,
    getManifest: async (d?: Digest, mo?: Abortable) => (d === undefined || d === raw.digest ? raw : src.getManifest(d, mo)),
    getBlob: async (d: Descriptor, bo?: Abortable) => {
      if (d.digest === cfgDesc.digest) return Readable.from([cfgBytes]);
      const f = files.get(d.digest);
      if (!f) return src.getBlob(d, bo);
      const v = verifyStream({ digest: f.digest, size: f.size });
      void pipeline(createReadStream(f.file), v).catch(() => undefined);
      return v;
    },
    close: async () => undefined,
  };
  const dst = await openImageDestination(parseImageLocation(o.tag), o, parseImageLocation(o.ref));
  try {
    const d = await copyImage(derived, dst.destination, { tags: dst.tags, allPlatforms: true, ...(o.signal ? { signal: o.signal } : {}) });
    return { ref: dst.ref, digest: d.digest };
  } finally {
    await dst.destination.close();
    await dst.release();
  }
}

async function withScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-crane-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Returns the image written at `o.tag`: the image `o.ref` names with its filesystem flattened into one layer
 * (`crane flatten`), whiteouts applied; the config keeps everything but its layers and history, which become one
 * entry naming the flatten.
 */
export async function flattenImage(o: CraneWriteOptions): Promise<CraneWriteResult> {
  return withScratch((dir) => withSource(o, async (src) => {
    const base = await resolveImage(src, o.platform, o);
    const pass = new PassThrough();
    const [layer] = await Promise.all([
      writeLayerFile(pass, 'none', join(dir, 'layer.tar.gz'), o),
      exportFilesystem({ ...o, out: pass }).catch((e: unknown) => {
        pass.destroy(e as Error);
        throw e;
      }),
    ]);
    const config: ImageConfig = {
      ...base.config,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created_by: `tsbuild flatten ${o.ref}`, comment: `flattened from ${base.raw.digest}` }],
    };
    return commitDerived(src, base, config, [layer], true, o);
  }));
}

export interface AppendOptions extends CraneWriteOptions {
  /** Layer tars, plain or gzipped, added in order on top of the base. */
  readonly layers: readonly string[];
}

/** Returns the image written at `o.tag`: `o.ref` with the tars `o.layers` added on top (`crane append`). */
export async function appendLayers(o: AppendOptions): Promise<CraneWriteResult> {
  if (o.layers.length === 0) throw new TsbuildError('USAGE', 'append needs at least one layer (-f FILE)', { hint: 'e.g. tsbuild append -f layer.tar BASE -t NEW' });
  return withScratch((dir) => withSource(o, async (src) => {
    const base = await resolveImage(src, o.platform, o);
    const added: LayerFile[] = [];
    for (const [i, f] of o.layers.entries()) {
      const head = Buffer.alloc(8);
      try {
        const fh = await open(f, 'r');
        try {
          await fh.read(head, 0, 8, 0);
        } finally {
          await fh.close();
        }
      } catch (e) {
        throw new TsbuildError('USAGE', `cannot read layer ${f}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { location: { ref: f }, hint: 'give a tar file (optionally gzipped)', cause: e });
      }
      const compression = detectCompression(head);
      if (compression !== 'gzip' && compression !== 'none') throw new TsbuildError('USAGE', `layer ${f} is ${compression}-compressed`, { location: { ref: f }, hint: 'give a plain or gzipped tar' });
      try {
        added.push(await writeLayerFile(createReadStream(f), compression, join(dir, `${i}.tar.gz`), o));
      } catch (e) {
        if (TsbuildError.is(e)) throw new TsbuildError(e.code, `${f}: ${e.message}`, { location: { ref: f }, hint: 'append takes a tar archive (plain or gzipped)', cause: e });
        throw e;
      }
    }
    const config: ImageConfig = {
      ...base.config,
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, ...added.map((l) => l.diffId)] },
      ...(base.config.history ? { history: [...base.config.history, ...o.layers.map((f) => ({ created_by: `tsbuild append ${basename(f)}` }))] } : {}),
    };
    return commitDerived(src, base, config, added, false, o);
  }));
}

/** Config edits of `tsbuild mutate` (crane mutate's flags, plus --workdir). Unset fields stay as they are. */
export interface ConfigChanges {
  readonly entrypoint?: readonly string[] | undefined;
  readonly cmd?: readonly string[] | undefined;
  /** `KEY=VALUE`: set, replacing the variable of that name. */
  readonly env?: readonly string[] | undefined;
  /** `KEY=VALUE` */
  readonly labels?: readonly string[] | undefined;
  readonly workdir?: string | undefined;
  readonly user?: string | undefined;
}

function splitPair(kind: string, s: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new TsbuildError('USAGE', `invalid --${kind} ${JSON.stringify(s)}`, { hint: `write --${kind} KEY=VALUE` });
  return [s.slice(0, i), s.slice(i + 1)];
}

/** Returns the container config with `c` applied (pure). */
export function applyConfigChanges(cfg: ContainerConfig | undefined, c: ConfigChanges): ContainerConfig {
  const out: ContainerConfig = { ...(cfg ?? {}) };
  if (c.entrypoint) out.Entrypoint = [...c.entrypoint];
  if (c.cmd) out.Cmd = [...c.cmd];
  if (c.env?.length) {
    const env = [...(out.Env ?? [])];
    for (const e of c.env) {
      const [k] = splitPair('env', e);
      const i = env.findIndex((x) => x.slice(0, x.indexOf('=') < 0 ? x.length : x.indexOf('=')) === k);
      if (i >= 0) env[i] = e;
      else env.push(e);
    }
    out.Env = env;
  }
  if (c.labels?.length) {
    const labels: Record<string, string> = { ...(out.Labels ?? {}) };
    for (const l of c.labels) {
      const [k, v] = splitPair('label', l);
      labels[k] = v;
    }
    out.Labels = labels;
  }
  if (c.workdir !== undefined) out.WorkingDir = c.workdir;
  if (c.user !== undefined) out.User = c.user;
  return out;
}

/** Returns the image written at `o.tag`: `o.ref` with its config changed (`crane mutate`); layers are untouched. */
export async function mutateImage(o: CraneWriteOptions & { readonly changes: ConfigChanges }): Promise<CraneWriteResult> {
  return withSource(o, async (src) => {
    const base = await resolveImage(src, o.platform, o);
    const config: ImageConfig = { ...base.config, config: applyConfigChanges(base.config.config, o.changes) };
    return commitDerived(src, base, config, [], false, o);
  });
}
