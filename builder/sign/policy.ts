/**
 * containers-policy.json(5) for the `docker` transport: the requirements of the most specific scope that names the
 * image (`host/repo:tag` or `host/repo@digest`, then `host/repo`, its parent namespaces, `host`, `*.domain`
 * wildcards), else `default`. Every requirement must pass: `insecureAcceptAnything`, `reject`, and `sigstoreSigned`
 * with `keyPath`/`keyPaths`/`keyData`/`keyDatas` and `signedIdentity` (default matchRepoDigestOrExact). `signedBy`
 * (GPG) and keyless `sigstoreSigned` (fulcio, rekor, pki) cannot be checked here: they are errors naming them.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TsbuildError } from '../../layer-store/index.js';
import { parseReference, type Reference, type RegistryClient } from '../../registry-client/index.js';
import { parseSignedIdentity, type SignedIdentity } from './identity.js';
import { readPublicKey, type VerifyingKey } from './keys.js';
import { verifyImage, type VerifiedImage } from './verify.js';

export type PolicyRequirement =
  | { readonly type: 'insecureAcceptAnything' }
  | { readonly type: 'reject' }
  | { readonly type: 'sigstoreSigned'; readonly keys: readonly VerifyingKey[]; readonly signedIdentity: SignedIdentity };

export interface Policy {
  readonly file: string;
  readonly default: readonly PolicyRequirement[];
  /** The `docker` transport's scopes. */
  readonly docker: ReadonlyMap<string, readonly PolicyRequirement[]>;
}

/** Returns the policy in `file`; throws a USAGE error naming the file and the field for anything it cannot honour. */
export function loadPolicy(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TsbuildError('USAGE', `cannot read policy file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { location: { ref: file }, hint: 'give a containers policy.json with --policy', cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TsbuildError('USAGE', `policy file is not JSON (${(e as Error).message})`, { location: { ref: file }, hint: 'see containers-policy.json(5)', cause: e });
  }
  const o = (doc ?? {}) as { default?: unknown; transports?: Record<string, Record<string, unknown>> };
  if (!Array.isArray(o.default)) throw new TsbuildError('USAGE', 'policy has no "default" list of requirements', { location: { ref: file }, hint: 'e.g. "default": [{"type": "reject"}]' });
  const docker = new Map<string, PolicyRequirement[]>();
  for (const [scope, reqs] of Object.entries(o.transports?.docker ?? {})) docker.set(scope, requirements(reqs, file, `transports.docker["${scope}"]`));
  return { file, default: requirements(o.default, file, 'default'), docker };
}

function requirements(v: unknown, file: string, at: string): PolicyRequirement[] {
  if (!Array.isArray(v) || v.length === 0) throw new TsbuildError('USAGE', `${at} must be a non-empty list of requirements`, { location: { ref: file }, hint: 'see containers-policy.json(5)' });
  return v.map((r, i) => requirement(r, file, `${at}[${i}]`));
}

function requirement(v: unknown, file: string, at: string): PolicyRequirement {
  const r = (v ?? {}) as Record<string, unknown>;
  const where = `${file}: ${at}`;
  const usage = (msg: string, hint: string): TsbuildError => new TsbuildError('USAGE', msg, { location: { ref: where }, hint });
  switch (r.type) {
    case 'insecureAcceptAnything': case 'reject':
      return { type: r.type };
    case 'signedBy':
      throw usage('signedBy (GPG simple signing) requirements are not supported', 'use a sigstoreSigned requirement with a cosign public key');
    case 'sigstoreSigned': {
      for (const k of ['fulcio', 'rekorPublicKeyPath', 'rekorPublicKeyPaths', 'rekorPublicKeyData', 'rekorPublicKeyDatas', 'pki']) {
        if (r[k] !== undefined) throw usage(`sigstoreSigned "${k}" (keyless signing) is not supported`, 'tsbuild checks key-based signatures only: give keyPath or keyData');
      }
      const keys: VerifyingKey[] = [];
      const base = dirname(resolve(file));
      const paths = [...(typeof r.keyPath === 'string' ? [r.keyPath] : []), ...(Array.isArray(r.keyPaths) ? r.keyPaths as unknown[] : [])];
      for (const p of paths) {
        if (typeof p !== 'string') throw usage('keyPaths must list strings', 'e.g. "keyPaths": ["/etc/pki/cosign.pub"]');
        const path = resolve(base, p);
        let text: string;
        try {
          text = readFileSync(path, 'utf8');
        } catch (e) {
          throw usage(`cannot read public key ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'fix keyPath');
        }
        keys.push(readPublicKey(text, path));
      }
      const datas = [...(typeof r.keyData === 'string' ? [r.keyData] : []), ...(Array.isArray(r.keyDatas) ? r.keyDatas as unknown[] : [])];
      for (const d of datas) {
        if (typeof d !== 'string') throw usage('keyDatas must list base64 strings', 'each is a base64-encoded cosign.pub');
        keys.push(readPublicKey(Buffer.from(d, 'base64').toString('utf8'), `${where}.keyData`));
      }
      if (keys.length === 0) throw usage('sigstoreSigned needs keyPath, keyPaths, keyData or keyDatas', 'name the cosign public key');
      const signedIdentity = r.signedIdentity === undefined ? { type: 'matchRepoDigestOrExact' as const } : parseSignedIdentity(r.signedIdentity, where);
      return { type: 'sigstoreSigned', keys, signedIdentity };
    }
    default:
      throw usage(`unknown requirement type ${JSON.stringify(r.type)}`, 'use insecureAcceptAnything, reject or sigstoreSigned');
  }
}

/** Returns the scopes that may name `ref`, most specific first (containers/image's docker transport order). */
export function policyScopes(ref: Reference): string[] {
  const name = `${ref.registry}/${ref.repository}`;
  const out = [ref.digest ? `${name}@${ref.digest}` : `${name}:${ref.tag ?? 'latest'}`, name];
  const parts = name.split('/');
  for (let i = parts.length - 1; i > 0; i--) out.push(parts.slice(0, i).join('/'));
  const host = ref.registry.replace(/:\d+$/, '');
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) out.push(`*.${labels.slice(i).join('.')}`);
  return [...new Set(out)];
}

/** Returns the scope that applies to `ref` and its requirements. */
export function requirementsFor(policy: Policy, ref: Reference): { scope: string; requirements: readonly PolicyRequirement[] } {
  for (const s of policyScopes(ref)) {
    const r = policy.docker.get(s);
    if (r) return { scope: s, requirements: r };
  }
  return { scope: 'default', requirements: policy.default };
}

/**
 * Returns the verified image when every requirement of `ref`'s scope passes (undefined when they accept anything
 * without signatures); throws a SIGNATURE error naming the reference, the policy file and the scope otherwise.
 */
export async function checkPolicy(policy: Policy, registry: RegistryClient, refText: string, signal?: AbortSignal): Promise<VerifiedImage | undefined> {
  const ref = parseReference(refText);
  const { scope, requirements: reqs } = requirementsFor(policy, ref);
  let verified: VerifiedImage | undefined;
  for (const r of reqs) {
    if (r.type === 'insecureAcceptAnything') continue;
    if (r.type === 'reject') {
      throw new TsbuildError('SIGNATURE', `policy rejects the image (${policy.file}, scope ${scope})`, { location: { ref: refText }, hint: 'the policy allows nothing from there; change the policy or pull from elsewhere' });
    }
    try {
      const v = await verifyImage({ registry, ref: refText, keys: r.keys, identity: r.signedIdentity, signal });
      if (verified && v.digest !== verified.digest) throw new TsbuildError('SIGNATURE', 'the image changed while it was checked', { location: { ref: refText }, hint: 'try again' });
      verified = v;
    } catch (e) {
      if (TsbuildError.is(e) && e.code === 'SIGNATURE') e.message = `${e.message} (policy ${policy.file}, scope ${scope})`;
      throw e;
    }
  }
  return verified;
}
