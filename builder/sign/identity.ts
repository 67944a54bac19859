/**
 * containers/image's `signedIdentity` rules: which `docker-reference` a signature may claim for the image asked
 * for (`intended`: the reference as pulled, with its tag or digest). Pure functions over references.
 */
import { TsbuildError } from '../../layer-store/index.js';
import { formatReference, parseReference, type Reference } from '../../registry-client/index.js';

/** A `signedIdentity` of policy.json (containers-policy.json(5)). */
export type SignedIdentity =
  | { readonly type: 'matchExact' }
  | { readonly type: 'matchRepoDigestOrExact' }
  | { readonly type: 'matchRepository' }
  | { readonly type: 'exactReference'; readonly dockerReference: string }
  | { readonly type: 'exactRepository'; readonly dockerRepository: string }
  | { readonly type: 'remapIdentity'; readonly prefix: string; readonly signedPrefix: string };

interface Parsed { readonly ref: Reference; readonly nameOnly: boolean }

/** Parses as containers' ParseNormalizedNamed, remembering whether the text named a tag or digest. */
function parse(s: string): Parsed | undefined {
  try {
    const ref = parseReference(s);
    const last = s.slice(s.lastIndexOf('/') + 1);
    return { ref, nameOnly: !last.includes(':') && !last.includes('@') };
  } catch {
    return undefined;
  }
}

const nameOf = (r: Reference): string => `${r.registry}/${r.repository}`;
const stringOf = (r: Reference): string => formatReference(r);

function repoDigestOrExact(intended: Reference, signed: Parsed): boolean {
  if (signed.nameOnly) return false;
  if (intended.tag !== undefined) return stringOf(signed.ref) === stringOf(intended);
  // By digest: the digest itself is checked against the payload elsewhere; the repository must match.
  return nameOf(signed.ref) === nameOf(intended);
}

/** True when a signature claiming `claimed` is acceptable for `intended` under `rule`. */
export function identityMatches(rule: SignedIdentity, intended: Reference, claimed: string): boolean {
  const signed = parse(claimed);
  if (!signed) return false;
  switch (rule.type) {
    case 'matchExact':
      return !signed.nameOnly && stringOf(signed.ref) === stringOf(intended);
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(intended, signed);
    case 'matchRepository':
      return nameOf(signed.ref) === nameOf(intended);
    case 'exactReference': {
      const want = parse(rule.dockerReference);
      return !!want && !want.nameOnly && !signed.nameOnly && stringOf(want.ref) === stringOf(signed.ref);
    }
    case 'exactRepository': {
      const want = parse(rule.dockerRepository);
      return !!want && nameOf(want.ref) === nameOf(signed.ref);
    }
    case 'remapIdentity': {
      const name = nameOf(intended);
      const hit = name === rule.prefix || (name.startsWith(rule.prefix) && name[rule.prefix.length] === '/');
      if (!hit) return repoDigestOrExact(intended, signed);
      const remapped = parse(stringOf(intended).replace(rule.prefix, rule.signedPrefix));
      return !!remapped && repoDigestOrExact(remapped.ref, signed);
    }
  }
}

/** Returns the `signedIdentity` object of a policy as a SignedIdentity; throws a USAGE error naming `where`. */
export function parseSignedIdentity(v: unknown, where: string): SignedIdentity {
  const bad = (why: string): TsbuildError => new TsbuildError('USAGE', `invalid signedIdentity: ${why}`, { location: { ref: where }, hint: 'see containers-policy.json(5): matchExact, matchRepoDigestOrExact, matchRepository, exactReference, exactRepository, remapIdentity' });
  if (typeof v !== 'object' || v === null) throw bad('not an object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || !o[k]) throw bad(`${String(o.type)} needs "${k}"`);
    return o[k];
  };
  switch (o.type) {
    case 'matchExact': case 'matchRepoDigestOrExact': case 'matchRepository':
      return { type: o.type };
    case 'exactReference':
      return { type: 'exactReference', dockerReference: str('dockerReference') };
    case 'exactRepository':
      return { type: 'exactRepository', dockerRepository: str('dockerRepository') };
    case 'remapIdentity':
      return { type: 'remapIdentity', prefix: str('prefix'), signedPrefix: str('signedPrefix') };
    default:
      throw bad(`unknown type ${JSON.stringify(o.type)}`);
  }
}
