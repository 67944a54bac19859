/**
 * `save`, `load` and `import` as docker scripts use them: `save IMG… > file` (stdout when -o is absent and stdout
 * is not a terminal), `load < file` (stdin when -i is absent), `import FILE|URL|- [NAME]` with `-c/--change` and
 * `-m/--message`. The archive work is layer-store's (saveImages, loadArchive, importRootfs).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandModule } from 'yargs';
import {
  LayerStore, TsbuildError, importRootfs, importRootfsStream, loadArchive, loadArchiveStream, normalizeTagName, parseImageName, parsePlatform, saveImages,
  type ContainerConfig,
} from '../../layer-store/index.js';
import { applyChanges } from '../docker-view/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { listOption } from '../options.js';
import { webFetch } from '../../registry-client/index.js';

function openStore(argv: GlobalArgs): Promise<LayerStore> {
  return LayerStore.open(argv.root, { logger: loggerFor(argv) });
}

/** Runs `f` with a private temp directory under $TMPDIR, removed afterwards whatever happens. */
async function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-'));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface SaveArgs extends GlobalArgs { refs: string[]; output?: string; format: 'oci' | 'docker'; platform?: string }

export const saveCommand: CommandModule<GlobalArgs, SaveArgs> = {
  command: 'save <refs..>',
  describe: 'write images to an OCI archive or a docker-archive (to -o FILE, else to stdout when it is not a terminal)',
  builder: (y) =>
    y
      .positional('refs', { type: 'string', array: true, demandOption: true })
      .option('output', { alias: 'o', type: 'string', describe: 'archive file to write (default: stdout)' })
      .option('format', { type: 'string', choices: ['oci', 'docker'] as const, default: 'oci' as const, describe: 'oci (oci-archive) or docker (docker-archive)' })
      .option('platform', { type: 'string', describe: 'with --format docker: the platform of an index to save (default: this machine\'s)' })
      .example('$0 save app:1 -o app.tar', 'to a file')
      .example('$0 save --format docker app:1 | docker load', 'to docker') as never,
  handler: async (argv) => {
    const opts = { format: argv.format, ...(argv.platform !== undefined ? { platform: parsePlatform(argv.platform) } : {}), ...(argv.signal ? { signal: argv.signal } : {}) };
    if (argv.output === undefined && process.stdout.isTTY) {
      throw new TsbuildError('USAGE', 'cowardly refusing to save to a terminal', { hint: 'use the -o flag or redirect: tsbuild save IMAGE > image.tar' });
    }
    if (argv.output === '') throw new TsbuildError('USAGE', 'empty -o', { hint: 'name a file, or leave -o out to write to stdout' });
    const store = await openStore(argv);
    if (argv.output !== undefined) {
      await saveImages(store, argv.refs, argv.output, opts);
      return;
    }
    // The archive is written whole first (saveImages commits atomically), then streamed: a failed save writes nothing.
    await withTempDir(async (dir) => {
      const file = join(dir, 'archive.tar');
      await saveImages(store, argv.refs, file, opts);
      await pipeline(createReadStream(file), process.stdout, { end: false });
    });
  },
};

interface LoadArgs extends GlobalArgs { input?: string; quiet: boolean }

export const loadCommand: CommandModule<GlobalArgs, LoadArgs> = {
  command: 'load',
  describe: 'load images from an OCI archive or a docker-archive (from -i FILE, else from stdin)',
  builder: (y) => y
    .option('input', { alias: 'i', type: 'string', describe: 'archive file to read (default: stdin)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but errors' })
    .example('$0 load < app.tar', 'from stdin')
    .example('docker save alpine | $0 load', 'from docker') as never,
  handler: async (argv) => {
    if (argv.input === undefined && process.stdin.isTTY) {
      throw new TsbuildError('USAGE', 'requested load from stdin, but stdin is empty', { hint: 'redirect an archive in (tsbuild load < image.tar) or pass -i FILE' });
    }
    const store = await openStore(argv);
    const lo = argv.signal ? { signal: argv.signal } : {};
    const r = argv.input !== undefined ? await loadArchive(store, argv.input, lo) : await loadArchiveStream(store, process.stdin, '-', lo);
    if (argv.quiet) return;
    for (const img of r.images) {
      if (img.names.length === 0) process.stdout.write(`Loaded image ID: ${img.descriptor.digest}\n`);
      for (const n of img.names) process.stdout.write(`Loaded image: ${n}\n`);
    }
  },
};

interface ImportArgs extends GlobalArgs { file: string; name?: string; message?: string; platform?: string; change: string[] }

/** Downloads `url` into `file`; a status other than 2xx is an error naming the URL. */
async function download(url: string, file: string, signal: AbortSignal | undefined): Promise<void> {
  let res: Response;
  try {
    res = await webFetch(url, signal ? { signal } : {});
  } catch (e) {
    throw new TsbuildError('IO', `cannot download ${url}: ${(e as Error).message}`, { location: { ref: url }, hint: 'check the URL and the network', cause: e });
  }
  if (!res.ok || !res.body) {
    throw new TsbuildError('IO', `cannot download ${url}: HTTP ${res.status} ${res.statusText}`, { location: { ref: url }, hint: 'check the URL' });
  }
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(file, { flags: 'wx' }), signal ? { signal } : {});
}

export const importCommand: CommandModule<GlobalArgs, ImportArgs> = {
  command: 'import <file> [name]',
  describe: 'make a one-layer image from a root filesystem tar: a file, an http(s) URL or - (stdin), as docker import',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'rootfs tar (plain or gzip): FILE, http(s)://URL or - for stdin' })
      .positional('name', { type: 'string', describe: 'REPOSITORY[:TAG] (default: none, the image is found by its ID)' })
      .option('change', listOption('Dockerfile instruction applied to the config: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR (repeatable)', 'c'))
      .option('message', { alias: 'm', type: 'string', describe: 'history comment (default "Imported from -" or "Imported from URL")' })
      .option('platform', { type: 'string', describe: 'os/arch[/variant] of the files (default: this machine)' })
      .example('tar -C rootfs -c . | $0 import -c "CMD [\\"/bin/sh\\"]" - base:1', 'from stdin, with a CMD')
      .example('$0 import https://example.com/rootfs.tar.gz base:2', 'from a URL') as never,
  handler: async (argv) => {
    // yargs hands a lone `-` over as an empty string.
    if (argv.file === '' && process.argv.includes('-')) argv.file = '-';
    if (argv.name !== undefined) parseImageName(argv.name);
    const config: ContainerConfig | undefined = argv.change.length > 0 ? applyChanges({}, argv.change) : undefined;
    const platform = argv.platform !== undefined ? parsePlatform(argv.platform) : undefined;
    const isUrl = /^https?:\/\//i.test(argv.file);
    if (argv.file === '-' && process.stdin.isTTY) {
      throw new TsbuildError('USAGE', 'import - reads the tar from stdin, but stdin is a terminal', { hint: 'redirect a tar in: tsbuild import - NAME < rootfs.tar' });
    }
    const store = await openStore(argv);
    const name = argv.name !== undefined ? normalizeTagName(argv.name) : undefined;
    const io = {
      source: isUrl ? argv.file : '-',
      ...(argv.message !== undefined ? { message: argv.message } : {}),
      ...(platform ? { platform } : {}),
      ...(config ? { config } : {}),
      ...(argv.signal ? { signal: argv.signal } : {}),
    };
    const run = (path: string) => importRootfs(store, path, name, io);
    let r;
    if (isUrl) {
      r = await withTempDir(async (dir) => {
        const file = join(dir, 'rootfs.tar');
        await download(argv.file, file, argv.signal);
        return run(file).catch((e: unknown) => {
          // Name the URL, not the temp file, in the error.
          if (TsbuildError.is(e) && e.location && 'ref' in e.location && e.location.ref === file) {
            e.location = { ref: argv.file };
            e.message = e.message.replaceAll(file, argv.file);
          }
          throw e;
        });
      });
    } else {
      r = argv.file === '-' ? await importRootfsStream(store, process.stdin, '-', name, io) : await run(argv.file);
    }
    process.stdout.write(`${r.configDescriptor.digest}\n`);
  },
};
