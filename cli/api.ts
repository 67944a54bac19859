/**
 * The typed programmatic API of tsbuild (the package's main export). The CLI is a thin layer over it.
 */
import { readFile } from 'node:fs/promises';
import { parseDockerfile, type DockerfileAst, type InstructionNode, type Heredoc } from '../builder/index.js';
import { TsbuildError } from '../layer-store/index.js';

export * from '../builder/index.js';
export { TsbuildError, formatError, parseDigest, hostPlatform, parsePlatform, formatPlatform } from '../layer-store/index.js';
export type { Limits, NetworkMode } from '../runtime-exec/index.js';
export type { Digest, Descriptor, ImageConfig, ImageManifest, ImageIndex, BuildEvent, EventSink, Logger, MissReason, Platform } from '../layer-store/index.js';

/** Reads and parses a Dockerfile from disk; a missing file is a DOCKERFILE_NOT_FOUND error. */
export async function parseDockerfileFile(path: string): Promise<DockerfileAst> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TsbuildError('DOCKERFILE_NOT_FOUND', code === 'EISDIR' ? `${path} is a directory, not a Dockerfile` : `cannot read Dockerfile ${path}: ${code ?? String(e)}`, {
      location: { ref: path },
      hint: 'pass the Dockerfile with -f FILE, or run in the directory that has one',
      cause: e,
    });
  }
  return parseDockerfile(bytes, { file: path });
}

/** One instruction in `tsbuild parse --json` output (documented in the README). */
export interface InstructionJson {
  cmd: string;
  line: number;
  endLine: number;
  flags: string[];
  args: string[];
  json: boolean;
  heredocs: { name: string; content: string; expand: boolean; chomp: boolean }[];
  next?: InstructionJson;
}

function nodeToJson(n: InstructionNode): InstructionJson {
  const out: InstructionJson = {
    cmd: n.cmd,
    line: n.line,
    endLine: n.endLine,
    flags: [...n.flags],
    args: [...n.args],
    json: n.json,
    heredocs: n.heredocs.map((h: Heredoc) => ({ name: h.name, content: h.content, expand: h.expand, chomp: h.chomp })),
  };
  if (n.next) out.next = nodeToJson(n.next);
  return out;
}

/** Returns the `tsbuild parse --json` shape: one object per instruction, in file order. */
export function astToJson(ast: DockerfileAst): InstructionJson[] {
  return ast.children.map(nodeToJson);
}

// Stores, registries and caches, for programs that wire their own build (as cli/main.ts does).
export { LayerStore, copyImage, importRootfs, saveImages, loadArchive } from '../layer-store/index.js';
export { RegistryClient, parseReference, formatReference, dockerKeychain } from '../registry-client/index.js';
export { CacheStore, importCache, exportCache } from '../cache/index.js';
export { findRuntime } from '../runtime-exec/index.js';
