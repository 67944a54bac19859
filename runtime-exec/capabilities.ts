/**
 * `docker run --cap-add/--cap-drop`: the capability set a container's process gets, as moby's
 * `oci/caps.TweakCapabilities` computes it. Names are case-insensitive, with or without the `CAP_` prefix;
 * `ALL` in the additions gives every capability; `ALL` in the drops starts from nothing and keeps only the
 * additions; otherwise the drops are taken from the defaults and the additions appended.
 */
import { ContainerStartError } from './errors.js';

/** Returns `CAP_X` for `x`, `cap_x` or `CAP_X`, `ALL` for `all`; throws on a capability runc does not know. */
export function normalizeCapability(name: string, known: readonly string[]): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const cap = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!known.includes(cap)) {
    throw new ContainerStartError(`unknown capability: ${JSON.stringify(name)}`, {
      hint: 'give a Linux capability name such as NET_ADMIN or CAP_SYS_PTRACE (see capabilities(7)), or ALL',
    });
  }
  return cap;
}

/** The capabilities of a process started with `base`, after `add` and `drop` (both may be empty). */
export function tweakCapabilities(base: readonly string[], add: readonly string[], drop: readonly string[], known: readonly string[]): string[] {
  if (add.length === 0 && drop.length === 0) return [...base];
  const adds = add.map((c) => normalizeCapability(c, known));
  const drops = drop.map((c) => normalizeCapability(c, known));
  if (adds.includes('ALL')) return [...known];
  const kept = drops.includes('ALL') ? [] : base.filter((c) => !drops.includes(c));
  for (const c of adds) if (!kept.includes(c)) kept.push(c);
  return kept;
}
