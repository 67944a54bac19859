/**
 * `tsbuild build`'s flags for RUN's container, as `docker buildx build` has them: `--add-host`, `--ulimit`,
 * `--shm-size`, `--cgroup-parent`. Parsed here into BuildOptions fields; the values are checked by runtime-exec
 * (each one that cannot be honoured is a USAGE error naming the flag).
 */
import type { Argv } from 'yargs';
import { TsbuildError } from '../layer-store/core/index.js';
import { checkCgroupParent, checkExtraHost, checkShmSize, parseUlimit, type ExtraHost, type Ulimit } from '../runtime-exec/index.js';
import { listOption, parseSize } from './options.js';

export interface RunFlagArgs {
  'add-host': string[];
  ulimit: string[];
  'shm-size'?: string;
  'cgroup-parent'?: string;
}

/** Adds the flags to a yargs builder. */
export function runFlags<T>(y: Argv<T>): Argv<T & RunFlagArgs> {
  return y
    .option('add-host', listOption('add a line to RUN\'s /etc/hosts: NAME:IP or NAME=IP (IP: host-gateway for this machine, 127.0.0.1); repeatable'))
    .option('ulimit', listOption('resource limit for RUN steps: TYPE=SOFT[:HARD], e.g. nofile=1024:2048 (-1: unlimited); repeatable'))
    .option('shm-size', { type: 'string', describe: 'size of /dev/shm in RUN steps (e.g. 128m; default 64m)' })
    .option('cgroup-parent', { type: 'string', describe: 'cgroup to create RUN containers under (cgroupfs path)' }) as unknown as Argv<T & RunFlagArgs>;
}

/**
 * Returns one `--add-host` value as entries (buildx: `NAME=IP` or `NAME:IP`; IP a comma-separated list, IPv6
 * possibly in brackets; `host-gateway` kept for the builder to resolve). Throws USAGE.
 */
export function parseAddHost(s: string): ExtraHost[] {
  let i = s.indexOf('=');
  if (i < 0) i = s.indexOf(':');
  const host = i < 0 ? '' : s.slice(0, i);
  const ips = i < 0 ? '' : s.slice(i + 1);
  if (host === '' || ips === '') throw new TsbuildError('USAGE', `--add-host ${s}: not NAME:IP`, { hint: 'write --add-host NAME:IP or NAME=IP' });
  if (ips === 'host-gateway') return [{ host, ip: ips }];
  return ips.split(',').map((v) => ({ host, ip: v.length > 2 && v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v }));
}

/** Returns the BuildOptions fields of the flags given (only those). Throws the first bad value as USAGE. */
export function parseRunFlags(argv: RunFlagArgs): { extraHosts?: ExtraHost[]; ulimits?: Ulimit[]; shmSize?: number; cgroupParent?: string } {
  const extraHosts = argv['add-host'].flatMap(parseAddHost);
  for (const h of extraHosts) if (h.ip !== 'host-gateway') checkExtraHost(h);
  const ulimits = argv.ulimit.map(parseUlimit);
  let shmSize: number | undefined;
  if (argv['shm-size'] !== undefined) {
    try {
      shmSize = parseSize(argv['shm-size']);
    } catch {
      throw new TsbuildError('USAGE', `--shm-size ${argv['shm-size']}: not a size`, { hint: 'write a number of bytes with an optional unit: 128m, 1g' });
    }
    checkShmSize(shmSize);
  }
  if (argv['cgroup-parent'] !== undefined) checkCgroupParent(argv['cgroup-parent']);
  return {
    ...(extraHosts.length ? { extraHosts } : {}),
    ...(ulimits.length ? { ulimits } : {}),
    ...(shmSize !== undefined ? { shmSize } : {}),
    ...(argv['cgroup-parent'] !== undefined ? { cgroupParent: argv['cgroup-parent'] } : {}),
  };
}
