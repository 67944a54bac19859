import type { CommandModule } from 'yargs';
import { Lease, copyImage, leaseDestination, parsePlatform, formatPlatform, type EventSink } from '../../layer-store/index.js';
import { formatReference, parseReference, type RegistryClient } from '../../registry-client/index.js';
import type { LayerStore } from '../../layer-store/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { createRenderer } from '../progress.js';
import { openStore } from '../services.js';
import { client, concurrencyFlag, registryFlags, type RegistryFlags } from './registry.js';

/** Pulls `ref` into the store (one platform, or the whole index) and names it; returns the committed digest. */
export async function pullInto(store: LayerStore, reg: RegistryClient, ref: string, o: { platform?: string | undefined; allPlatforms?: boolean; events?: EventSink; signal?: AbortSignal; lease?: Lease | undefined; concurrency?: number }): Promise<string> {
  const r = parseReference(ref);
  const name = formatReference(r);
  // Under a lease (the build's, or one of its own) so that a prune running meanwhile keeps the blobs this
  // pull found present or wrote, until the tag names them.
  const lease = o.lease ?? await Lease.acquire(store.root, o.signal ? { signal: o.signal } : {});
  try {
    const d = await copyImage(reg.source(r), leaseDestination(store.destination(), lease), {
      ...(o.platform ? { platform: parsePlatform(o.platform) } : {}),
      allPlatforms: o.allPlatforms === true,
      tags: r.tag !== undefined ? [name.split('@')[0]!] : [],
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      ...(o.events ? { events: o.events } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return d.digest;
  } finally {
    if (!o.lease) await lease.release();
  }
}

/** Pushes the image or index named `name` in the store to `dest` (default: the same name). */
export async function pushFrom(store: LayerStore, reg: RegistryClient, name: string, dest: string | undefined, o: { events?: EventSink; signal?: AbortSignal; concurrency?: number } = {}): Promise<string> {
  const d = await copyImage(store.source(name), reg.destination(parseReference(dest ?? name)), {
    allPlatforms: true,
    ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    ...(o.events ? { events: o.events } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return d.digest;
}

interface PullArgs extends RegistryFlags { ref: string; platform?: string; 'all-platforms': boolean }
interface PushArgs extends RegistryFlags { name: string; dest?: string }
interface CopyArgs extends RegistryFlags { src: string; dst: string; platform?: string; 'all-platforms': boolean }

export const pullCommand: CommandModule<GlobalArgs, PullArgs> = {
  command: 'pull <ref>',
  describe: 'pull an image (or one platform of an index) from a registry into the store',
  builder: (y) => registryFlags(y
    .positional('ref', { type: 'string', demandOption: true, describe: 'NAME[:TAG|@DIGEST]' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from an index (default: this machine)' })
    .option('all-platforms', { type: 'boolean', default: false, describe: 'pull every platform and the index itself' })) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      const store = await openStore(argv.root, loggerFor(argv));
      const digest = await pullInto(store, reg, argv.ref, { platform: argv.platform, allPlatforms: argv['all-platforms'], events: renderer.sink, concurrency: concurrencyFlag(argv['max-concurrent-downloads'], 'max-concurrent-downloads') });
      renderer.close();
      process.stdout.write(`${formatReference(parseReference(argv.ref))}: ${digest}${argv.platform ? ` (${formatPlatform(parsePlatform(argv.platform))})` : ''}\n`);
    } finally {
      renderer.close();
      await reg.close();
    }
  },
};

export const pushCommand: CommandModule<GlobalArgs, PushArgs> = {
  command: 'push <name> [dest]',
  describe: 'push an image or index from the store to a registry (blobs first, the manifest last)',
  builder: (y) => registryFlags(y
    .positional('name', { type: 'string', demandOption: true, describe: 'image in the store' })
    .positional('dest', { type: 'string', describe: 'registry reference to push to (default: NAME)' })) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      const store = await openStore(argv.root, loggerFor(argv));
      const digest = await pushFrom(store, reg, argv.name, argv.dest, { events: renderer.sink, concurrency: concurrencyFlag(argv['max-concurrent-uploads'], 'max-concurrent-uploads') });
      renderer.close();
      process.stdout.write(`${formatReference(parseReference(argv.dest ?? argv.name))}: ${digest}\n`);
    } finally {
      renderer.close();
      await reg.close();
    }
  },
};

export const copyCommand: CommandModule<GlobalArgs, CopyArgs> = {
  command: 'copy <src> <dst>',
  describe: 'copy an image between registries, streaming (nothing is stored locally)',
  builder: (y) => registryFlags(y
    .positional('src', { type: 'string', demandOption: true })
    .positional('dst', { type: 'string', demandOption: true })
    .option('platform', { type: 'string', describe: 'copy only this platform of an index' })
    .option('all-platforms', { type: 'boolean', default: true, describe: 'copy every platform and the index (default)' })) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      const src = parseReference(argv.src);
      const dst = parseReference(argv.dst);
      // Within one registry, blobs are mounted from the source repository instead of streamed through us.
      const mountFrom = src.registry === dst.registry && src.repository !== dst.repository ? [src.repository] : [];
      const d = await copyImage(reg.source(src), reg.destination(dst, { mountFrom }), {
        ...(argv.platform ? { platform: parsePlatform(argv.platform), allPlatforms: false } : { allPlatforms: argv['all-platforms'] }),
        concurrency: concurrencyFlag(Math.min(argv['max-concurrent-uploads'], argv['max-concurrent-downloads']), 'max-concurrent-uploads'),
        events: renderer.sink,
      });
      renderer.close();
      process.stdout.write(`${formatReference(parseReference(argv.dst))}: ${d.digest}\n`);
    } finally {
      renderer.close();
      await reg.close();
    }
  },
};
