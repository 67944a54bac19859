import type { CommandModule } from 'yargs';
// Not the builder's barrel: esbuild's code splitting would load every module it imports (the whole builder,
// ~0.5 MB) into pull and push (cli/README.md, Start-up); signing and trust load only when asked for.
import { pull, push } from '../../builder/pipeline/transfer.js';
import { LayerStore, parsePlatform, formatPlatform } from '../../layer-store/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { createRenderer } from '../progress/index.js';
import { client, concurrencyFlag, registryFlags, type RegistryFlags } from './registry.js';
import { formatReference, parseReference } from '../../registry-client/index.js';
import { listOption } from '../options.js';

interface PullArgs extends RegistryFlags { ref: string; platform?: string; 'all-platforms': boolean; 'verify-key': string[]; policy?: string }
interface PushArgs extends RegistryFlags { name: string; dest?: string; 'sign-by'?: string }

export const pullCommand: CommandModule<GlobalArgs, PullArgs> = {
  command: 'pull <ref>',
  describe: 'pull an image (or one platform of an index) from a registry into the store',
  builder: (y) => registryFlags(y
    .positional('ref', { type: 'string', demandOption: true, describe: 'NAME[:TAG|@DIGEST]' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from an index (default: this machine)' })
    .option('all-platforms', { type: 'boolean', default: false, describe: 'pull every platform and the index itself' })
    .option('verify-key', listOption('refuse the image unless signed by this cosign public key (repeatable: any one)'))
    .option('policy', { type: 'string', describe: 'refuse the image unless this containers policy.json accepts it (sigstoreSigned, reject, insecureAcceptAnything)' })
    .example('$0 pull --platform linux/arm64 localhost:5000/app:1', 'one platform of an index')) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      // A bad reference or platform fails before the store is made (a pull into a new root creates it).
      parseReference(argv.ref);
      const platform = argv.platform ? parsePlatform(argv.platform) : undefined;
      // Not awaited here: pull() asks the registry for the manifest while the store opens.
      // A new root's files are written behind the downloads (index.json's update waits for them).
      const store = LayerStore.open(argv.root, { logger: loggerFor(argv), layoutFilesBehind: true });
      store.catch(() => undefined);
      // Checked before anything is stored; then pulled by the digest that was checked, so nothing else is tagged.
      const trusted = argv['verify-key'].length > 0 || argv.policy !== undefined
        ? await (await import('./sign.js')).checkImageTrust(reg, argv.ref, { keys: argv['verify-key'], policy: argv.policy, signal: argv.signal })
        : undefined;
      const ref = trusted ? formatReference({ ...parseReference(argv.ref), digest: trusted.digest }) : argv.ref;
      const r = await pull({ store, registry: reg, ref, platform, allPlatforms: argv['all-platforms'], events: renderer.sink, concurrency: concurrencyFlag(argv['max-concurrent-downloads'], 'max-concurrent-downloads') });
      renderer.close();
      process.stdout.write(`${trusted ? formatReference(parseReference(argv.ref)) : r.ref}: ${r.digest}${platform ? ` (${formatPlatform(platform)})` : ''}\n`);
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
    .option('sign-by', { type: 'string', describe: 'sign with this cosign private key: pushed by digest, signed, then tagged' })
    .example('$0 push app:1 localhost:5000/team/app:1', 'push under another name')) as never,
  handler: async (argv) => {
    const signBy = argv['sign-by'] !== undefined ? await (await import('./sign.js')).loadSigningKey(argv['sign-by']) : undefined;
    const renderer = createRenderer(argv.progress);
    const reg = client(argv);
    try {
      const store = await LayerStore.open(argv.root, { logger: loggerFor(argv) });
      const r = await push({ store, registry: reg, name: argv.name, destination: argv.dest, signBy, events: renderer.sink, concurrency: concurrencyFlag(argv['max-concurrent-uploads'], 'max-concurrent-uploads') });
      renderer.close();
      process.stdout.write(`${r.ref}: ${r.digest}\n`);
    } finally {
      renderer.close();
      await reg.close();
    }
  },
};
