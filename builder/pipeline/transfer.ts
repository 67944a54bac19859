/**
 * pull, push and copy: the registry verbs of the library, each one `copyImage` (layer-store/copy.ts) between a
 * registry and the store, or between two registries. They add what the verb means on top of the copy: which
 * names are committed, the lease that keeps a pull's blobs from a concurrent prune, cross-repository mounts.
 * The registry client and the store are the caller's (opened and closed by it); nothing here is global.
 */
import {
  Lease, copyImage, leaseDestination,
  type Abortable, type Descriptor, type Digest, type EventSink, type ImageSource, type LayerStore, type Platform, type RawManifest,
} from '../../layer-store/index.js';
import { formatReference, parseReference, type RegistryClient } from '../../registry-client/index.js';
import type { SigningKey } from '../sign/keys.js';

export interface PullOptions extends Abortable {
  /**
   * The store the image goes into, or the promise of it: the registry's first round trips (its ping and the
   * manifest the reference names) then run while the store opens (the CLI's pull).
   */
  readonly store: LayerStore | Promise<LayerStore>;
  readonly registry: RegistryClient;
  /** `NAME[:TAG|@DIGEST]`, normalised as the registry client does (`alpine` → docker.io/library/alpine:latest). */
  readonly ref: string;
  /** For an index: the platform to pull (default: this machine's). Ignored with `allPlatforms`. */
  readonly platform?: Platform | undefined;
  /** For an index: pull every child and commit the index itself. Default false. */
  readonly allPlatforms?: boolean | undefined;
  /**
   * The lease the blobs are written under (a build's, so that what it pulls stays leased until it tags its
   * result). Default: the pull acquires its own and releases it once the tag names the image.
   */
  readonly lease?: Lease | undefined;
  /** Blobs downloaded at once (default: copyImage's, 4). */
  readonly concurrency?: number | undefined;
  readonly events?: EventSink | undefined;
}

export interface PullResult {
  /** The committed manifest (the chosen child of an index, or the index with `allPlatforms`). */
  readonly descriptor: Descriptor;
  readonly digest: Digest;
  /** The reference pulled, normalised (`docker.io/library/alpine:latest`). */
  readonly ref: string;
  /** The names tagged in the store: the reference without a digest when it has a tag, else none. */
  readonly tags: readonly string[];
}

/**
 * Returns the manifest pulled from `o.ref` into `o.store`, named there by its tag. Blobs are verified as they
 * stream and written under a lease, so a prune running meanwhile keeps those it found present or wrote until
 * the tag names them; a failure leaves only unreferenced blobs and moves no tag.
 */
export async function pull(o: PullOptions): Promise<PullResult> {
  const r = parseReference(o.ref);
  const name = formatReference(r);
  const tags = r.tag !== undefined ? [name.split('@')[0]!] : [];
  // The manifest is asked for first: the ping and the manifest's round trips overlap the store's opening and the
  // lease's first write (files and fsyncs on the thread pool).
  const source = withFirstManifest(o.registry.source(r), o.signal ? { signal: o.signal } : {});
  const store = await o.store;
  const lease = o.lease ?? await Lease.acquire(store.root, o.signal ? { signal: o.signal } : {});
  try {
    const d = await copyImage(source, leaseDestination(store.destination(), lease), {
      ...(o.platform ? { platform: o.platform } : {}),
      allPlatforms: o.allPlatforms === true,
      tags,
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      ...(o.events ? { events: o.events } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return { descriptor: d, digest: d.digest, ref: name, tags };
  } finally {
    if (!o.lease) await lease.release();
  }
}

/**
 * Returns `src` with the manifest its reference names requested now; copyImage's first getManifest() gets that
 * answer (or its error), later calls go to `src`. A request nobody reads fails quietly.
 */
function withFirstManifest(src: ImageSource, o: Abortable): ImageSource {
  let first: Promise<RawManifest> | undefined = src.getManifest(undefined, o);
  first.catch(() => undefined);
  return {
    ref: src.ref,
    getManifest: (digest, mo) => {
      const f = first;
      first = undefined;
      return digest === undefined && f ? f : src.getManifest(digest, mo);
    },
    getBlob: (d, bo) => src.getBlob(d, bo),
    close: () => src.close(),
  };
}

export interface PushOptions extends Abortable {
  /** The store the image is read from. */
  readonly store: LayerStore;
  readonly registry: RegistryClient;
  /** The image or index in the store (a name or a digest). */
  readonly name: string;
  /** The registry reference to push to. Default: `name`. */
  readonly destination?: string | undefined;
  /** Blobs uploaded at once (default: copyImage's, 4). */
  readonly concurrency?: number | undefined;
  readonly events?: EventSink | undefined;
  /** Sign with this key before tagging (builder/sign/push.ts): by digest, then the signature, then the tag. */
  readonly signBy?: SigningKey | undefined;
}

export interface PushResult {
  /** The manifest committed at the registry (an index with every child). */
  readonly descriptor: Descriptor;
  readonly digest: Digest;
  /** The reference pushed to, normalised. */
  readonly ref: string;
}

/**
 * Returns the manifest pushed from the store to the registry: every blob (skipping those the registry has),
 * then the manifests children first, then the tag. Nothing is reachable by tag before the last PUT.
 */
export async function push(o: PushOptions): Promise<PushResult> {
  const target = parseReference(o.destination ?? o.name);
  if (o.signBy) {
    // Loaded only to sign: the CLI's push loads this module without the signing code (cli/commands/transfer.ts).
    const { pushSigned } = await import('../sign/push.js');
    const s = await pushSigned({ store: o.store, registry: o.registry, name: o.name, target, key: o.signBy, concurrency: o.concurrency, events: o.events, signal: o.signal });
    return { descriptor: s.descriptor, digest: s.descriptor.digest, ref: formatReference(target) };
  }
  const d = await copyImage(o.store.source(o.name), o.registry.destination(target), {
    allPlatforms: true,
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.events ? { events: o.events } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { descriptor: d, digest: d.digest, ref: formatReference(target) };
}

export interface RegistryCopyOptions extends Abortable {
  readonly registry: RegistryClient;
  /** The reference copied from. */
  readonly source: string;
  /** The reference copied to. */
  readonly destination: string;
  /** For an index: copy only this platform's child (and commit it alone). */
  readonly platform?: Platform | undefined;
  /** For an index without `platform`: copy every child and the index itself. Default true. */
  readonly allPlatforms?: boolean | undefined;
  /** Blobs copied at once (default: copyImage's, 4). */
  readonly concurrency?: number | undefined;
  readonly events?: EventSink | undefined;
}

export interface RegistryCopyResult {
  /** The manifest committed at the destination. */
  readonly descriptor: Descriptor;
  readonly digest: Digest;
  /** The destination reference, normalised. */
  readonly ref: string;
}

/**
 * Returns the manifest copied from one registry reference to another, streaming: nothing is stored locally.
 * Within one registry, blobs are mounted from the source repository instead of streamed through this process.
 */
export async function copy(o: RegistryCopyOptions): Promise<RegistryCopyResult> {
  const src = parseReference(o.source);
  const dst = parseReference(o.destination);
  const mountFrom = src.registry === dst.registry && src.repository !== dst.repository ? [src.repository] : [];
  const d = await copyImage(o.registry.source(src), o.registry.destination(dst, { mountFrom }), {
    ...(o.platform ? { platform: o.platform, allPlatforms: false } : { allPlatforms: o.allPlatforms ?? true }),
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.events ? { events: o.events } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { descriptor: d, digest: d.digest, ref: formatReference(dst) };
}
