/**
 * builder/attest/sbom: the SBOM of an image's filesystem (or of any directory, such as a build context) as an
 * SPDX 2.3 JSON document, in the shape BuildKit's scanner (Syft) writes, so tools written for buildx's
 * attestations read it. Pure scanning: it reads the directories it is given and nothing else.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { TsbuildError, fsPath, throwIfAborted } from '../../../layer-store/core/index.js';
import { MergedTree } from './tree.js';
import { readDistro, scanOsRelease } from './os-release.js';
import { scanDpkg } from './dpkg.js';
import { scanApk } from './apk.js';
import { scanNpm } from './npm.js';
import { scanPython } from './python.js';
import { scanGo } from './go.js';
import { assembleDocument, type SpdxChecksum, type SpdxDocument } from './spdx.js';
import type { FoundPackage, ScanContext, Scanner } from './model.js';

export type {
  SpdxDocument, SpdxPackage, SpdxFile, SpdxRelationship, SpdxChecksum, SpdxExternalRef, SpdxExtractedLicense,
} from './spdx.js';
export { EVIDENT_BY } from './spdx.js';
export type { FoundPackage, Ecosystem } from './model.js';
export { readGoBuildInfo, type GoBuildInfo, type GoModule } from './go-buildinfo.js';
export { MergedTree, type TreeEntry } from './tree.js';

export interface SbomInput {
  /** Layer directories of the image, lowest first, as the store unpacks them (LayerStore snapshot dirs: read layer-store to see how whiteouts are represented there — overlay char-dev 0/0 and trusted.overlay.opaque, or .wh. files) — OR a single merged root directory. */
  readonly layers: readonly string[];
  /** The document's name and the image it describes, e.g. the image reference or 'stage builder'. */
  readonly name: string;
  readonly platform?: { os: string; architecture: string; variant?: string };
  readonly created?: Date; // from SOURCE_DATE_EPOCH when set, for reproducibility
  /**
   * What the layers are: 'image' (default; the root package is `SPDXRef-DocumentRoot-Image-…`, purpose CONTAINER)
   * or 'directory' (a build context or a stage's root: `SPDXRef-DocumentRoot-Directory-…`, purpose FILE).
   */
  readonly kind?: 'image' | 'directory';
}

const SCANNERS: readonly Scanner[] = [scanOsRelease, scanDpkg, scanApk, scanGo, scanNpm, scanPython];

/**
 * Returns the SPDX 2.3 document of the files `input.layers` show when stacked (whiteouts applied), listing the
 * OS release, Debian and Alpine packages, Go modules in executables, npm packages and Python distributions,
 * each with its purl, its declared license (NOASSERTION when none), the files that declared it and (dpkg, apk)
 * the regular files it installed that are still there, each hashed (SHA1, SHA256). Equal input
 * (with `created` given) gives an equal document, namespace included. Reads only; leaves nothing behind.
 */
export async function generateSbom(input: SbomInput, o: { signal?: AbortSignal } = {}): Promise<SpdxDocument> {
  const layers = await checkLayers(input);
  const tree = await MergedTree.open(layers, { signal: o.signal });
  const ctx: ScanContext = { tree, distro: await readDistro(tree), signal: o.signal };
  const packages: FoundPackage[] = [];
  for (const scan of SCANNERS) {
    throwIfAborted(o.signal);
    packages.push(...(await scan(ctx)));
  }
  const files = new Map<string, SpdxChecksum[]>();
  const byAbs = new Map<string, SpdxChecksum[]>();
  const hashed = async (path: string): Promise<boolean> => {
    if (files.has(path)) return true;
    const e = await tree.resolve(path);
    if (e?.type !== 'file') return false;
    let sums = byAbs.get(e.abs);
    if (!sums) byAbs.set(e.abs, (sums = await checksums(e.abs, e.size, o.signal)));
    files.set(path, sums);
    return true;
  };
  const withFiles: FoundPackage[] = [];
  for (const p of packages) {
    for (const path of p.evidence) await hashed(path);
    const owned: string[] = [];
    for (const path of new Set(p.owned ?? [])) if (await hashed(path)) owned.push(path); // directories and deleted files drop out
    withFiles.push({ ...p, owned });
  }
  return assembleDocument({
    name: input.name, kind: input.kind ?? 'image', platform: input.platform, created: input.created ?? new Date(),
    tool: `tsbuild-${toolVersion()}`, packages: withFiles, files,
  });
}

/** Returns the layer dirs as absolute paths; a missing one, or none at all, is a TsbuildError naming it. */
async function checkLayers(input: SbomInput): Promise<string[]> {
  const location = { ref: input.name };
  if (input.layers.length === 0) {
    throw new TsbuildError('USAGE', `SBOM of ${input.name}: no layer directory given`, { location, hint: "pass the image's layer directories, lowest first, or one root directory" });
  }
  return Promise.all(input.layers.map(async (l) => {
    const abs = resolve(l);
    const st = await stat(fsPath(abs)).catch((e: unknown) => {
      throw new TsbuildError('IO', `SBOM of ${input.name}: cannot read layer directory ${abs}: ${(e as Error).message}`, { location, cause: e, hint: 'pass directories that exist (LayerStore.snapshot returns them)' });
    });
    if (!st.isDirectory()) throw new TsbuildError('IO', `SBOM of ${input.name}: layer ${abs} is not a directory`, { location, hint: 'pass unpacked layer directories, not layer tars' });
    return abs;
  }));
}

/** Returns the SHA1 and SHA256 of the file `abs` (of `size` bytes: small files in one read, large ones streamed). */
async function checksums(abs: string, size: number, signal: AbortSignal | undefined): Promise<SpdxChecksum[]> {
  const sha1 = createHash('sha1');
  const sha256 = createHash('sha256');
  if (size <= 1024 * 1024) {
    throwIfAborted(signal);
    const b = await readFile(fsPath(abs));
    sha1.update(b);
    sha256.update(b);
  } else {
    await pipeline(createReadStream(fsPath(abs)), new Writable({
      write(chunk: Buffer, _enc, cb) { sha1.update(chunk); sha256.update(chunk); cb(); },
    }), ...(signal ? [{ signal }] as const : []));
  }
  return [{ algorithm: 'SHA1', checksumValue: sha1.digest('hex') }, { algorithm: 'SHA256', checksumValue: sha256.digest('hex') }];
}

let version: string | undefined;

/** Returns tsbuild's version from the nearest package.json named tsbuild above this module (the bundle too). */
function toolVersion(): string {
  if (version !== undefined) return version;
  for (let up = '../'; up.length < 8 * 3; up += '../') {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tsbuild' && pkg.version) return (version = pkg.version);
    } catch { /* not here: one level up */ }
  }
  return (version = 'unknown');
}
