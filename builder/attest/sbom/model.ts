/** What the SBOM scanners find: one record per package, before it becomes SPDX (spdx.ts). */
import type { MergedTree } from './tree.js';

export type Ecosystem = 'deb' | 'apk' | 'npm' | 'python' | 'go' | 'os';

export interface FoundPackage {
  readonly ecosystem: Ecosystem;
  readonly name: string;
  /** The version as the package manager writes it ('' when it gives none). */
  readonly version: string;
  /** The package URL (https://github.com/package-url/purl-spec); undefined for the OS release. */
  readonly purl?: string | undefined;
  /** The licenses the package declares, as written (combined with AND); empty: NOASSERTION. */
  readonly licenses: readonly string[];
  /** Tree paths (no leading slash) of the files that declared the package: the evident-by files. */
  readonly evidence: readonly string[];
  /**
   * Tree paths of the regular files the package installed, as its package manager records them (dpkg's
   * info/*.list, apk's F:/R: lines): CONTAINS relationships, as Syft's. Empty for the other ecosystems.
   */
  readonly owned?: readonly string[] | undefined;
  /** Syft-style `sourceInfo`: which cataloger found it and where. */
  readonly sourceInfo: string;
  readonly purpose?: 'OPERATING_SYSTEM' | 'LIBRARY' | 'APPLICATION' | undefined;
  readonly supplier?: string | undefined;
  readonly homepage?: string | undefined;
  readonly description?: string | undefined;
  readonly downloadLocation?: string | undefined;
}

/** The distribution from /etc/os-release, for purl qualifiers (`distro=debian-12`). */
export interface Distro {
  readonly id: string;
  readonly versionId?: string | undefined;
  readonly prettyName?: string | undefined;
  readonly versionCodename?: string | undefined;
  readonly path: string;
}

export interface ScanContext {
  readonly tree: MergedTree;
  readonly distro: Distro | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** One ecosystem's scanner: returns the packages it finds in the tree (none: empty). */
export type Scanner = (ctx: ScanContext) => Promise<FoundPackage[]>;
