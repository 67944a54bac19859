import type { CommandModule } from 'yargs';
import { runImage } from '../../builder/index.js';
import { parsePlatform } from '../api.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { listOption } from '../options.js';
import { openRuntime, openStore } from '../services.js';

interface RunArgs extends GlobalArgs {
  image: string;
  command: string[];
  rm: boolean;
  volume: string[];
  env: string[];
  workdir?: string;
  user?: string;
  network: 'default' | 'host' | 'none';
  entrypoint?: string;
  platform?: string;
  runtime?: string;
}

/** `tsbuild run [--rm] [-v H:C[:ro]] [-e K=V] [-w DIR] [-u USER] [--network …] IMAGE [CMD…]`. */
export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <image> [command..]',
  describe: 'run a command in a new container from an image (the container is always removed)',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'image reference in the store' })
      .positional('command', { type: 'string', array: true, default: [], describe: 'command and arguments (default: the image CMD)' })
      .option('rm', { type: 'boolean', default: true, describe: 'remove the container afterwards (always; tsbuild keeps no containers)' })
      .option('volume', listOption('bind mount HOST:CONTAINER[:ro]', 'v'))
      .option('env', listOption('environment variable K=V (K alone: from this environment)', 'e'))
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory inside the container' })
      .option('user', { alias: 'u', type: 'string', describe: 'user (name, uid, name:group or uid:gid)' })
      .option('network', { choices: ['default', 'host', 'none'] as const, default: 'default' as const, describe: 'network namespace' })
      .option('entrypoint', { type: 'string', describe: 'override the image ENTRYPOINT' })
      .option('platform', { type: 'string', describe: 'platform of the image to run (foreign ones under QEMU)' })
      .option('runtime', { type: 'string', describe: 'OCI runtime binary (default: runc)' })
      .parserConfiguration({ 'unknown-options-as-args': true }) as never,
  handler: async (argv) => {
    const logger = loggerFor(argv);
    const store = await openStore(argv.root, logger);
    const runtime = await openRuntime(argv.runtime, logger, argv.root);
    const ac = { signal: argv.signal ?? new AbortController().signal };
    {
      const code = await runImage({
        store, runtime, image: argv.image, cmd: argv.command.map(String),
        entrypoint: argv.entrypoint !== undefined ? (argv.entrypoint === '' ? [] : [argv.entrypoint]) : undefined,
        env: argv.env, workdir: argv.workdir, user: argv.user, network: argv.network, volumes: argv.volume,
        platform: argv.platform ? parsePlatform(argv.platform) : undefined,
        stdout: process.stdout, stderr: process.stderr, signal: ac.signal,
      });
      process.exitCode = code;
    }
  },
};
