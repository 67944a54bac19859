/**
 * crane's verbs (digest, config, blob, catalog, export, flatten, append, mutate) as thin commands over the library
 * (builder/pipeline/crane-read.ts, crane-write.ts). A REF is any transport reference of `tsbuild copy`; a bare
 * name is the store's image when the store has it, else the registry's.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Argv, CommandModule } from 'yargs';
import {
  catalog, exportFilesystem, imageConfig, imageDigest, writeBlob,
} from '../../builder/index.js';
import { appendLayers, flattenImage, mutateImage, type CraneWriteResult } from '../../builder/index.js';
import { parseImageLocation } from '../../builder/index.js';
import { TsbuildError, type Platform } from '../../layer-store/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { openStore } from '../services.js';
import { platformFlags, sideClient, sideFlags, type SideFlags } from './copy.js';
import { registryFlags, type RegistryFlags } from './registry.js';

interface RefArgs extends RegistryFlags, SideFlags { ref: string; platform?: string }

type Ctx = Parameters<typeof imageDigest>[0];

/** Runs `fn` with a registry client and the lazily opened store, closing the client after. */
async function withContext<T>(argv: RefArgs, dst: string | undefined, fn: (c: Omit<Ctx, 'ref'> & { platform: Platform | undefined }) => Promise<T>): Promise<T> {
  const src = argv.ref ? parseImageLocation(argv.ref.includes('@sha256:') ? argv.ref.slice(0, argv.ref.lastIndexOf('@')) : argv.ref) : undefined;
  const { registry, close } = await sideClient(argv, src, dst ? parseImageLocation(dst) : undefined);
  try {
    return await fn({ registry, openStore: () => openStore(argv.root, loggerFor(argv)), platform: platformFlags(argv) });
  } finally {
    await close();
  }
}

function refCommand<A extends RefArgs>(command: string, describe: string, extra: (y: Argv<RefArgs>) => Argv<A>, examples: [string, string][], handler: (argv: A) => Promise<void>): CommandModule<GlobalArgs, A> {
  return {
    command, describe,
    builder: (y) => {
      let b = extra(sideFlags(registryFlags(y
        .positional('ref', { type: 'string', demandOption: command.includes('<ref>'), describe: 'image: a bare name (the store first, then the registry) or docker://, oci:, oci-archive:, docker-archive:, store:' })
        .option('platform', { type: 'string', describe: 'for an index: os/arch[/variant] of the image to use' }))) as unknown as Argv<RefArgs>);
      for (const [cmd, what] of examples) b = b.example(cmd, what);
      return b as never;
    },
    handler: handler as never,
  };
}

/** Writes to `-` (stdout) or a file. */
function outputOf(path: string | undefined): { out: Writable; done: () => Promise<void> } {
  // yargs hands a lone `-` over as ''
  if (path === undefined || path === '-' || path === '') return { out: process.stdout, done: async () => undefined };
  const out = createWriteStream(path);
  return { out, done: () => finished(out) };
}

const printResult = (r: CraneWriteResult): void => {
  process.stdout.write(`${r.ref.replace(/:[^:/@]+$/, '')}@${r.digest}\n`);
};

export const digestCommand = refCommand('digest <ref>', 'print the digest of an image or index (crane digest)', (y) => y,
  [['$0 digest localhost:5000/app:1', 'sha256:… of the manifest (of the index, for a multi-platform image)']],
  async (argv) => {
    const d = await withContext(argv, undefined, (c) => imageDigest({ ...c, ref: argv.ref }));
    process.stdout.write(`${d}\n`);
  });

export const configCommand = refCommand('config <ref>', 'print the raw config blob of an image (crane config)', (y) => y,
  [['$0 config alpine | jq .config.Env', 'the config as stored (for an index: the host platform\'s image)']],
  async (argv) => {
    const b = await withContext(argv, undefined, (c) => imageConfig({ ...c, ref: argv.ref }));
    process.stdout.write(b);
  });

export const blobCommand = refCommand('blob <ref>', 'write a blob to stdout, verified (crane blob REF@DIGEST)', (y) => y,
  [['$0 blob localhost:5000/app@sha256:… | tar tz', 'a layer of a remote image']],
  async (argv) => {
    await withContext(argv, undefined, (c) => writeBlob({ ...c, ref: argv.ref, out: process.stdout }));
  });

interface CatalogArgs extends RegistryFlags, SideFlags { registry: string; 'full-ref': boolean }
export const catalogCommand: CommandModule<GlobalArgs, CatalogArgs> = {
  command: 'catalog <registry>',
  describe: 'list the repositories of a registry (crane catalog)',
  builder: (y) => sideFlags(registryFlags(y
    .positional('registry', { type: 'string', demandOption: true, describe: 'host[:port]' })
    .option('full-ref', { type: 'boolean', default: false, describe: 'print REGISTRY/REPOSITORY' })
    .example('$0 catalog localhost:5000', 'one repository per line'))) as never,
  handler: async (argv) => {
    const host = argv.registry.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
    const { registry, close } = await sideClient(argv, parseImageLocation(`docker://${host}/x`), undefined);
    try {
      for (const r of await catalog({ registry, host })) process.stdout.write(`${argv['full-ref'] ? `${host}/` : ''}${r}\n`);
    } finally {
      await close();
    }
  },
};

interface ExportArgs extends RefArgs { file?: string }
export const exportCommand = refCommand<ExportArgs>('export <ref> [file]', 'write the flattened filesystem of an image as a tar (crane export; - or no FILE: stdout)',
  (y) => y.positional('file', { type: 'string', describe: 'tar file to write, - for stdout' }) as never,
  [['$0 export alpine - | tar t', 'list the files of the image']],
  async (argv) => {
    if ((argv.file === undefined || argv.file === '-' || argv.file === '') && process.stdout.isTTY) throw new TsbuildError('USAGE', 'refusing to write a tar to a terminal', { hint: 'redirect stdout (> fs.tar) or name a FILE' });
    const { out, done } = outputOf(argv.file);
    await withContext(argv, undefined, (c) => exportFilesystem({ ...c, ref: argv.ref, out }));
    if (out !== process.stdout) out.end();
    await done();
  });

interface WriteArgs extends RefArgs { tag: string }
const tagOption = <T>(y: Argv<T>): Argv<T & { tag: string }> => y.option('tag', { alias: 't', type: 'string', demandOption: true, describe: 'where the new image goes: a bare name (a registry host: the registry, else the store) or a transport reference' }) as never;

export const flattenCommand = refCommand<WriteArgs>('flatten <ref>', 'write the image with its layers squashed into one (crane flatten)', tagOption,
  [['$0 flatten app:1 -t app:flat', 'one layer, same config']],
  async (argv) => printResult(await withContext(argv, argv.tag, (c) => flattenImage({ ...c, ref: argv.ref, tag: argv.tag }))));

interface AppendArgs extends WriteArgs { 'new-layer': string | string[]; base?: string }
export const appendCommand: CommandModule<GlobalArgs, AppendArgs> = {
  ...refCommand<AppendArgs>('append [ref]', 'add layer tars (plain or gzipped) on top of an image (crane append)',
    (y) => tagOption(y).option('new-layer', { alias: 'f', type: 'string', demandOption: true, describe: 'layer tar to add (repeatable)' })
      .option('base', { alias: 'b', type: 'string', describe: 'crane spelling of the base image' }) as never,
    [['$0 append -f extra.tar.gz app:1 -t app:2', 'app:1 plus one layer']],
    async (argv) => {
      const given = argv.ref as string | undefined;
      const ref = given ?? argv.base;
      if (!ref) throw new TsbuildError('USAGE', 'append needs a base image', { hint: 'give BASE (or -b BASE)' });
      if (given && argv.base) throw new TsbuildError('USAGE', 'append: base given twice (BASE and -b)', { hint: 'give one of them' });
      printResult(await withContext({ ...argv, ref }, argv.tag, (c) => appendLayers({ ...c, ref, tag: argv.tag, layers: listOf(argv['new-layer']) ?? [] })));
    }),
};

interface MutateArgs extends WriteArgs { entrypoint?: string | string[]; cmd?: string | string[]; env?: string | string[]; label?: string | string[]; workdir?: string; user?: string }
/** A flag given once (a string) or repeated (an array), as a list; never `array: true`, which swallows positionals. */
const listOf = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
const commaList = (v: string | string[] | undefined): string[] | undefined => listOf(v)?.flatMap((x) => x.split(','));
export const mutateCommand = refCommand<MutateArgs>('mutate <ref>', 'write the image with its config changed (crane mutate)',
  (y) => tagOption(y)
    .option('entrypoint', { type: 'string', describe: 'new entrypoint (comma-separated words, as crane)' })
    .option('cmd', { type: 'string', describe: 'new cmd (comma-separated words, as crane)' })
    .option('env', { alias: 'e', type: 'string', describe: 'KEY=VALUE to set (repeatable)' })
    .option('label', { alias: 'l', type: 'string', describe: 'KEY=VALUE label to set (repeatable)' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'new working directory' })
    .option('user', { alias: 'u', type: 'string', describe: 'new user' }) as never,
  [['$0 mutate app:1 --entrypoint /bin/sh,-c --env A=1 -t app:2', 'same layers, new config']],
  async (argv) => printResult(await withContext(argv, argv.tag, (c) => mutateImage({
    ...c, ref: argv.ref, tag: argv.tag,
    changes: { entrypoint: commaList(argv.entrypoint), cmd: commaList(argv.cmd), env: listOf(argv.env), labels: listOf(argv.label), workdir: argv.workdir, user: argv.user },
  }))));

/** crane's verbs, in help order. */
export const craneCommands = [digestCommand, configCommand, blobCommand, catalogCommand, exportCommand, flattenCommand, appendCommand, mutateCommand];
