import type { CommandModule } from 'yargs';
import { pull, push } from '../../builder/index.js';
import { parsePlatform, formatPlatform } from '../../layer-store/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { createRenderer } from '../progress/index.js';
import { openStore } from '../services.js';
import { client, concurrencyFlag, registryFlags, type RegistryFlags } from './registry.js';

interface PullArgs extends RegistryFlags { ref: string; platform?: string; 'all-platforms': boolean }
interface PushArgs extends RegistryFlags { name: string; dest?: string }

export const pullCommand: CommandModule<GlobalArgs, PullArgs> = {
  command: 'pull <ref>',
  describe: 'pull an image (or one platform of an index) from a registry into the store',
  builder: (y) => registryFlags(y
    .positional('ref', { type: 'string', demandOption: true, describe: 'NAME[:TAG|@DIGEST]' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from an index (default: this machine)' })
    .option('all-platforms', { type: 'boolean', default: false, describe: 'pull every platform and the index itself' })
    .example('$0 pull --platform linux/arm64 localhost:5000/app:1', 'one platform of an index')) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      const store = await openStore(argv.root, loggerFor(argv));
      const platform = argv.platform ? parsePlatform(argv.platform) : undefined;
      const r = await pull({ store, registry: reg, ref: argv.ref, platform, allPlatforms: argv['all-platforms'], events: renderer.sink, concurrency: concurrencyFlag(argv['max-concurrent-downloads'], 'max-concurrent-downloads') });
      renderer.close();
      process.stdout.write(`${r.ref}: ${r.digest}${platform ? ` (${formatPlatform(platform)})` : ''}\n`);
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
    .positional('dest', { type: 'string', describe: 'registry reference to push to (default: NAME)' })
    .example('$0 push app:1 localhost:5000/team/app:1', 'push under another name')) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      const store = await openStore(argv.root, loggerFor(argv));
      const r = await push({ store, registry: reg, name: argv.name, destination: argv.dest, events: renderer.sink, concurrency: concurrencyFlag(argv['max-concurrent-uploads'], 'max-concurrent-uploads') });
      renderer.close();
      process.stdout.write(`${r.ref}: ${r.digest}\n`);
    } finally {
      renderer.close();
      await reg.close();
    }
  },
};
