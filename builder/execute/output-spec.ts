/**
 * `--output` values, read as buildx reads them (util/buildflags/export.go, build/opt.go CreateExports): one CSV
 * record of `KEY=VALUE` fields (a field with a comma is double-quoted: `"name=a:1,b:1"`), or a bare `PATH`
 * (type=local) or `-` (type=tar to stdout). Every type and attribute is either honoured or refused by name; none
 * is ignored. Pure: nothing here touches the disk or a stream.
 */
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { TsbuildError } from '../../layer-store/index.js';
import { parseAnnotationAttribute, type Annotation } from './annotations.js';

/** How an image-carrying output writes the image (BuildKit's image exporter options). */
export interface ImageOutputFormat {
  /**
   * `false`: Docker v2 schema 2 media types (manifest, config and layers; a Docker manifest list for several
   * platforms), for tools that read Docker-only fields. Default true (OCI).
   */
  readonly ociMediaTypes?: boolean | undefined;
  /** Annotations of this output alone (`annotation…` attributes), added to the pipeline's `annotations`. */
  readonly annotations?: readonly Annotation[] | undefined;
}

/**
 * Where a result goes besides the store. `image`: names in the store, pushed with `push`. `oci`/`docker`: an
 * archive. `tar`/`local`: the root filesystem (per platform in `<os>_<arch>[_<variant>]` directories when
 * `platformSplit`, default: when several platforms were built). A `dest` that is a stream gets the bytes (stdout).
 */
export type OutputSpec =
  /** `names`: the `name=` values (buildx: replaced by the -t names when there are any). */
  | ({ readonly type: 'image'; readonly names: readonly string[]; readonly push?: boolean | undefined } & ImageOutputFormat)
  /** `tar: false` (oci only): `dest` is an OCI layout directory, not an archive. */
  | ({ readonly type: 'oci' | 'docker'; readonly dest: string | Writable; readonly names?: readonly string[] | undefined; readonly tar?: boolean | undefined } & ImageOutputFormat)
  | { readonly type: 'tar'; readonly dest: string | Writable; readonly platformSplit?: boolean | undefined }
  | { readonly type: 'local'; readonly dest: string; readonly platformSplit?: boolean | undefined };

export interface ParseOutputOptions {
  /** Where `dest=-` (and a file output without dest) writes; undefined: such an output is refused. */
  readonly stdout?: Writable | undefined;
  /** True when stdout is a terminal: `dest=-` is refused, as buildx refuses to write an archive to a console. */
  readonly stdoutIsTerminal?: boolean | undefined;
}

const TYPES = ['image', 'registry', 'oci', 'docker', 'tar', 'local', 'cacheonly'] as const;
const HINT = 'write type=image|registry|oci|docker|tar|local[,KEY=VALUE…], a directory, or - (a tar on stdout)';

/** The attributes each type honours (besides `type`, `dest` and `annotation…` where images are written). */
const ATTRIBUTES: Readonly<Record<(typeof TYPES)[number], readonly string[]>> = {
  image: ['name', 'push', 'oci-mediatypes', 'unpack', 'store'],
  registry: ['name', 'push', 'oci-mediatypes', 'unpack', 'store'],
  oci: ['name', 'oci-mediatypes', 'tar'],
  docker: ['name', 'oci-mediatypes', 'tar'],
  tar: ['platform-split'],
  local: ['platform-split', 'mode'],
  cacheonly: [],
};

/** What to use instead of an exporter attribute tsbuild has as a flag of its own. */
const INSTEAD: Readonly<Record<string, string>> = {
  compression: 'layers are compressed as the build flag --compression gzip|zstd says',
  'compression-level': 'layers are compressed at the default level of --compression',
  'force-compression': 'base layers keep their compression; --compression applies to the layers the build makes',
  insecure: 'give --insecure-registry HOST[:PORT] (loopback registries are always plain HTTP)',
};

/** Returns the fields of one CSV record (RFC 4180 quoting, as Go's encoding/csv reads it). */
export function splitCsv(s: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new TsbuildError('USAGE', `unterminated quote in ${JSON.stringify(s)}`, { location: { ref: where }, hint: 'close the quoted field with "' });
        if (s[i] === '"') {
          if (s[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += s[i++];
      }
      if (i < s.length && s[i] !== ',') throw new TsbuildError('USAGE', `extraneous text after a quoted field in ${JSON.stringify(s)}`, { location: { ref: where }, hint: 'quote the whole field: "key=a,b"' });
    } else {
      const j = s.indexOf(',', i);
      field = s.slice(i, j < 0 ? s.length : j);
      i = j < 0 ? s.length : j;
    }
    out.push(field);
    if (i >= s.length) return out;
    i++; // the comma
  }
}

/** Returns a boolean attribute's value; anything but Go's ParseBool spellings is a USAGE error. */
function bool(v: string, key: string, where: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new TsbuildError('USAGE', `non-bool value for ${key}: ${JSON.stringify(v)}`, { location: { ref: where }, hint: `write ${key}=true or ${key}=false` });
}

/** Returns the stream `dest=-` means, or throws the reason it cannot be used. */
function stdoutDest(type: string, o: ParseOutputOptions, where: string): Writable {
  if (o.stdoutIsTerminal) {
    throw new TsbuildError('USAGE', `dest file is required for ${type} exporter. refusing to write to console`, { location: { ref: where }, hint: `redirect stdout (> out.tar or | tar t) or write ${type === 'tar' ? '-o type=tar' : `-o type=${type}`},dest=FILE` });
  }
  if (!o.stdout) throw new TsbuildError('USAGE', `--output type=${type},dest=- has no stdout to write to`, { location: { ref: where }, hint: 'pass a dest file, or a stdout stream to parseOutput' });
  return o.stdout;
}

/**
 * Returns the output an `--output` value describes. Throws a USAGE error naming the type or attribute for
 * anything tsbuild cannot honour (an unknown type, `push-by-digest`, `compression`, `docker` with `tar=false`,
 * `mode=delete`, `store=false`, …), for a missing `dest` where one is needed, and for `dest=-` when there is no
 * stdout or it is a terminal.
 */
export function parseOutput(spec: string, o: ParseOutputOptions = {}): OutputSpec {
  const where = `--output ${spec}`;
  const fields = splitCsv(spec, where);
  // buildx: one field that is not `type=…` is a directory (even with a `=` in it), `-` a tar on stdout.
  if (fields.length === 1 && fields[0] === spec && !spec.startsWith('type=')) {
    if (spec === '-') return { type: 'tar', dest: stdoutDest('tar', o, where) };
    if (spec === '') throw new TsbuildError('USAGE', 'empty --output', { hint: HINT });
    return { type: 'local', dest: resolve(spec) };
  }
  const attrs = new Map<string, string>();
  const annotations: Annotation[] = [];
  let type: string | undefined;
  let dest: string | undefined;
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq < 0) throw new TsbuildError('USAGE', `invalid value ${JSON.stringify(f)} in --output`, { location: { ref: where }, hint: HINT });
    const key = f.slice(0, eq).trim().toLowerCase();
    const value = f.slice(eq + 1);
    if (key === 'type') type = value;
    else if (key === 'dest') dest = value;
    else {
      const a = parseAnnotationAttribute(f.slice(0, eq).trim(), value, where);
      if (a) annotations.push(a);
      else attrs.set(key, value);
    }
  }
  if (!type) throw new TsbuildError('USAGE', 'type is required for output', { location: { ref: where }, hint: HINT });
  if (!(TYPES as readonly string[]).includes(type)) {
    throw new TsbuildError('USAGE', `unknown --output type ${JSON.stringify(type)}`, { location: { ref: where }, hint: 'use image, registry, oci, docker, tar, local or cacheonly' });
  }
  const t = type as (typeof TYPES)[number];
  for (const k of attrs.keys()) {
    if (!ATTRIBUTES[t].includes(k)) {
      const instead = INSTEAD[k] ? `${INSTEAD[k]}; ` : '';
      throw new TsbuildError('USAGE', `--output type=${t} attribute ${JSON.stringify(k)} is not supported by tsbuild`, {
        location: { ref: where }, hint: `${instead}${ATTRIBUTES[t].length ? `its attributes here: ${['dest', ...ATTRIBUTES[t]].join(', ')}` : 'remove it'}`,
      });
    }
  }
  const imageLike = t === 'image' || t === 'registry' || t === 'oci' || t === 'docker';
  if (annotations.length > 0 && !imageLike) {
    throw new TsbuildError('USAGE', `--output type=${t} writes no image, so it takes no annotation attributes`, { location: { ref: where }, hint: 'annotate an image, oci or docker output, or use --annotation' });
  }
  const refuse = (k: string, v: string, why: string): never => {
    throw new TsbuildError('USAGE', `--output type=${t} ${k}=${v} is not supported by tsbuild: ${why}`, { location: { ref: where }, hint: `remove ${k}=${v}` });
  };
  const get = (k: string): string | undefined => attrs.get(k);
  const fmt: ImageOutputFormat = {
    ...(get('oci-mediatypes') !== undefined ? { ociMediaTypes: bool(get('oci-mediatypes')!, 'oci-mediatypes', where) } : {}),
    ...(annotations.length ? { annotations } : {}),
  };
  const names = (get('name') ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  switch (t) {
    case 'cacheonly':
      return { type: 'image', names: [] };
    case 'image':
    case 'registry': {
      if (dest !== undefined) refuse('dest', dest, `type=${t} writes to the store and registries, not to a file`);
      if (get('store') !== undefined && !bool(get('store')!, 'store', where)) refuse('store', get('store')!, 'the image is always kept in the store');
      if (get('unpack') !== undefined) bool(get('unpack')!, 'unpack', where); // snapshots are made on demand either way
      const push = t === 'registry' || (get('push') !== undefined && bool(get('push')!, 'push', where));
      return { type: 'image', names, push, ...fmt };
    }
    case 'oci':
    case 'docker': {
      if (get('tar') !== undefined && !bool(get('tar')!, 'tar', where)) {
        if (t === 'docker') refuse('tar', get('tar')!, 'a Docker image is written as an archive only; use type=oci,tar=false for a layout directory');
        if (dest === undefined || dest === '' || dest === '-') throw new TsbuildError('USAGE', `dest is required for oci exporter with tar=false, and cannot be stdout`, { location: { ref: where }, hint: 'write --output type=oci,tar=false,dest=DIR' });
        return { type: t, dest: resolve(dest), tar: false, ...(names.length ? { names } : {}), ...fmt };
      }
      // buildx: the docker exporter without dest loads the image into the daemon: for tsbuild, into its store.
      if (dest === undefined && t === 'docker') return { type: 'image', names, push: false, ...fmt };
      const to = dest === undefined || dest === '-' ? stdoutDest(t, o, where) : resolve(dest);
      return { type: t, dest: to, ...(names.length ? { names } : {}), ...fmt };
    }
    case 'tar':
    case 'local': {
      const platformSplit = get('platform-split') !== undefined ? bool(get('platform-split')!, 'platform-split', where) : undefined;
      const split = platformSplit !== undefined ? { platformSplit } : {};
      if (t === 'local') {
        if (get('mode') !== undefined && get('mode') !== 'copy') refuse('mode', get('mode')!, 'only mode=copy (files are added, stale ones are left)');
        if (dest === undefined || dest === '') throw new TsbuildError('USAGE', 'dest is required for local exporter', { location: { ref: where }, hint: 'write --output type=local,dest=DIR' });
        if (dest === '-') throw new TsbuildError('USAGE', 'dest cannot be stdout for local exporter', { location: { ref: where }, hint: 'write -o - or -o type=tar,dest=- for a tar on stdout' });
        return { type: 'local', dest: resolve(dest), ...split };
      }
      const to = dest === undefined || dest === '-' ? stdoutDest('tar', o, where) : resolve(dest);
      return { type: 'tar', dest: to, ...split };
    }
  }
}

/** Returns the outputs whose dest is `stream`; throws when more than one writes to it (as buildx refuses). */
export function checkOneStdout(outputs: readonly OutputSpec[], stream: Writable): number {
  const n = outputs.filter((x) => x.type !== 'image' && x.type !== 'local' && x.dest === stream).length;
  if (n > 1) throw new TsbuildError('USAGE', 'multiple outputs configured to write to stdout', { hint: 'give all but one of them dest=FILE' });
  return n;
}
