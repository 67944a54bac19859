/**
 * `tsbuild run --mount`: docker's `--mount` syntax (comma-separated `key=value` fields), for the two kinds a
 * daemonless run can honour: `type=bind` (a host path) and `type=tmpfs`. Named volumes need a daemon that keeps
 * them; `type=volume` (docker's default type) and unknown fields are usage errors naming them. A missing bind
 * source is docker's error (only `-v` creates one).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { TsbuildError } from '../layer-store/index.js';
import type { Mount } from '../runtime-exec/index.js';
import { parseSize } from './options.js';

const BOOL_TRUE = new Set(['', 'true', '1']);
const BOOL_FALSE = new Set(['false', '0']);

function usage(spec: string, why: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', `invalid --mount ${JSON.stringify(spec)}: ${why}`, { hint });
}

/** Parses one `--mount` value into a Mount. */
export function parseRunMount(spec: string): Mount {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    if (key === '') continue;
    fields.set(key, i < 0 ? '' : part.slice(i + 1));
  }
  const type = fields.get('type') ?? 'volume';
  const target = fields.get('target') ?? fields.get('destination') ?? fields.get('dst');
  if (!target) throw usage(spec, 'no target', 'add target=/path/in/container');
  if (!target.startsWith('/')) throw usage(spec, `target ${JSON.stringify(target)} is not absolute`, 'give an absolute path inside the container');
  const ro = fields.get('readonly') ?? fields.get('ro');
  if (ro !== undefined && !BOOL_TRUE.has(ro) && !BOOL_FALSE.has(ro)) throw usage(spec, `readonly=${ro}`, 'write readonly, readonly=true or readonly=false');
  const readonly = ro !== undefined && BOOL_TRUE.has(ro);
  const allowed = type === 'bind'
    ? ['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'consistency']
    : ['type', 'target', 'destination', 'dst', 'tmpfs-size', 'tmpfs-mode', 'consistency'];
  if (type === 'bind') {
    const source = fields.get('source') ?? fields.get('src');
    if (!source) throw usage(spec, 'a bind mount needs a source', 'add source=/path/on/host');
    for (const k of fields.keys()) if (!allowed.includes(k)) throw usage(spec, `field ${k} is not supported for a bind mount`, `drop ${k}=…; supported: ${allowed.join(', ')}`);
    const abs = resolve(source);
    if (!existsSync(abs)) {
      // docker's words (moby volume/mounts: errMountConfig); unlike -v, --mount never creates the source.
      throw new TsbuildError('USAGE', `invalid mount config for type "bind": bind source path does not exist: ${abs}`, {
        hint: `create ${abs} first, or fix the path (--mount never creates it; -v ${abs}:${target} does, as docker's)`,
      });
    }
    return { type: 'bind', source: abs, target, readonly };
  }
  if (type === 'tmpfs') {
    for (const k of fields.keys()) if (!allowed.includes(k)) throw usage(spec, `field ${k} is not supported for a tmpfs mount`, `drop ${k}=…; supported: ${allowed.join(', ')}`);
    const size = fields.get('tmpfs-size');
    const mode = fields.get('tmpfs-mode');
    if (mode !== undefined && !/^[0-7]{1,4}$/.test(mode)) throw usage(spec, `tmpfs-mode=${mode}`, 'give an octal mode such as 1777');
    return { type: 'tmpfs', target, ...(size !== undefined ? { size: parseSize(size) } : {}), ...(mode !== undefined ? { mode: parseInt(mode, 8) } : {}) };
  }
  if (type === 'volume') {
    throw usage(spec, 'named volumes (type=volume, the default type) need a daemon that keeps them', 'use type=bind,source=DIR,target=… or type=tmpfs,target=…');
  }
  throw usage(spec, `type=${type} is not supported`, 'use type=bind or type=tmpfs');
}
