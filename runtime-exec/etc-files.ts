import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSpec } from './types.js';

/** The default hostname of a step's container. */
export const DEFAULT_HOSTNAME = 'tsbuild';

/** Docker's fallback when the host has no usable resolv.conf. */
const FALLBACK_RESOLV = 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n';

export interface EtcFiles {
  readonly hosts: string;
  readonly resolv: string;
  readonly hostname: string;
}

/** Returns the text of /etc/hosts for a step (loopback names, the hostname, then extra hosts). */
export function hostsText(hostname: string, extra: RunSpec['extraHosts']): string {
  let s = `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
  for (const h of extra ?? []) s += `${h.ip}\t${h.host}\n`;
  return s;
}

/**
 * Returns resolv.conf for a step: the host's, except that loopback nameservers are dropped when the step has
 * its own network namespace (they would be unreachable); the Docker fallback when nothing is left.
 */
export function resolvText(host: string, ownNetns: boolean): string {
  const lines = host.split('\n').filter((l) => !(ownNetns && /^\s*nameserver\s+(127\.|::1\s*$)/.test(l)));
  const hasNs = lines.some((l) => /^\s*nameserver\s+\S/.test(l));
  const text = lines.join('\n').trimEnd() + '\n';
  return hasNs ? text : (text.trim() ? text : '') + FALLBACK_RESOLV;
}

/**
 * Writes hosts, resolv.conf and hostname into `dir` (the bundle) and returns their paths. Synchronous: three tiny
 * files at every RUN, cheaper than three thread-pool round trips.
 */
export async function writeEtcFiles(dir: string, spec: RunSpec): Promise<EtcFiles> {
  const hostname = spec.hostname ?? DEFAULT_HOSTNAME;
  let hostResolv = '';
  try {
    hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    hostResolv = '';
  }
  const files = { hosts: join(dir, 'hosts'), resolv: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
  writeFileSync(files.hosts, hostsText(hostname, spec.extraHosts), { mode: 0o644 });
  writeFileSync(files.resolv, resolvText(hostResolv, spec.network === 'none'), { mode: 0o644 });
  writeFileSync(files.hostname, hostname + '\n', { mode: 0o644 });
  return files;
}
