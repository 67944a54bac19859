/**
 * pushSigned: a push that signs before it tags, so that no tag ever names an image whose signature failed to
 * upload: blobs and manifests by digest (no tag), then the signature (attach.ts), then the tag (the same manifest
 * bytes PUT under it). A failure before the tag leaves the registry's tags as they were.
 */
import { copyImage, type Descriptor, type EventSink, type LayerStore } from '../../layer-store/index.js';
import { formatReference, type Reference, type RegistryClient } from '../../registry-client/index.js';
import type { SigningKey } from './keys.js';
import { signImage, type SignImageResult } from './sign.js';

export interface PushSignedOptions {
  readonly store: LayerStore;
  readonly registry: RegistryClient;
  /** The image or index in the store. */
  readonly name: string;
  /** Where it goes (a tag, or a digest: then nothing is tagged). */
  readonly target: Reference;
  readonly key: SigningKey;
  readonly concurrency?: number | undefined;
  readonly events?: EventSink | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Returns the manifest pushed and the signature stored; the tag moves last. */
export async function pushSigned(o: PushSignedOptions): Promise<{ descriptor: Descriptor; signature: SignImageResult }> {
  const repo: Reference = { registry: o.target.registry, repository: o.target.repository };
  const d = await copyImage(o.store.source(o.name), o.registry.destination(repo), {
    allPlatforms: true,
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.events ? { events: o.events } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const signature = await signImage({ registry: o.registry, ref: formatReference(o.target), key: o.key, subject: d, signal: o.signal });
  o.events?.({ type: 'info', message: `signed ${formatReference(o.target)} (${d.digest}): ${signature.signatureRef}${signature.referrer === 'unsupported' ? ' (the registry has no referrers API: .sig tag only)' : ' and as an OCI referrer'}` });
  if (o.target.tag !== undefined) {
    const raw = await o.registry.source({ ...repo, digest: d.digest }).getManifest(undefined, { signal: o.signal });
    await o.registry.destination(o.target).commitManifest(raw, o.target.tag, { signal: o.signal });
  }
  return { descriptor: d, signature };
}
