/**
 * `tsbuild build`'s stdin inputs, as docker's and buildx's: `-f -` reads the Dockerfile from stdin; a context of
 * `-` hands stdin to the pipeline (a tar of the context, or a Dockerfile with no context: builder/pipeline's
 * stdin-context.ts decides). Both at once is refused with docker's words.
 */
import type { Readable } from 'node:stream';
import { TsbuildError } from '../layer-store/core/index.js';

/** Returns all of `stream` (the Dockerfile of `-f -`). */
async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(parts);
}

export interface StdinInputs {
  readonly context: string;
  readonly dockerfile?: string | undefined;
  readonly dockerfileContent?: Buffer;
  readonly contextStream?: Readable;
}

/**
 * Returns the pipeline's context and Dockerfile options for `CONTEXT` and `-f`, reading stdin for `-f -`.
 * `stdin` is read only when named: `process.stdin` makes a stream of fd 0 (tty, net or fs modules) when first read.
 */
export async function stdinInputs(context: string, file: string | undefined, stdin: () => Readable = () => process.stdin): Promise<StdinInputs> {
  if (context === '-' && file === '-') {
    throw new TsbuildError('USAGE', 'invalid argument: can\'t use stdin for both build context and dockerfile', { hint: 'pass the context as a directory, or the Dockerfile with -f FILE' });
  }
  if (file === '-') return { context, dockerfileContent: await readAll(stdin()) };
  if (context === '-') return { context, dockerfile: file, contextStream: stdin() };
  return { context, dockerfile: file };
}
