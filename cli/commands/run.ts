import type { CommandModule } from 'yargs';
import { runImage } from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';
import { parsePlatform } from '../api.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { listOption } from '../options.js';
import { openRuntime, openStore } from '../services.js';

export { separateRunCommand } from './run-args.js';

interface RunArgs extends GlobalArgs {
  image: string;
  command: string[];
  _: (string | number)[];
  rm: boolean;
  keep: boolean;
  volume: string[];
  env: string[];
  'env-file': string[];
  workdir?: string;
  user?: string;
  network: 'default' | 'host' | 'none';
  entrypoint?: string;
  platform?: string;
  runtime?: string;
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  publish: string[];
  name?: string;
  hostname?: string;
  'read-only': boolean;
}

/** This process's SIGINT and SIGTERM, as a SignalSource. */
const processSignals = {
  subscribe(send: (sig: NodeJS.Signals) => void): () => void {
    process.on('SIGINT', send);
    process.on('SIGTERM', send);
    return () => {
      process.off('SIGINT', send);
      process.off('SIGTERM', send);
    };
  },
};

/** Refuses a docker run option tsbuild cannot honour, naming what to use instead. */
function refuse(flag: string, instead: string): never {
  throw new TsbuildError('USAGE', `tsbuild run does not support ${flag}`, { hint: instead });
}

/** `tsbuild run [OPTIONS] IMAGE [COMMAND] [ARG…]`: docker run's shape, for scripts that check an image. */
export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <image> [command..]',
  describe: 'run a command in a new container from an image (the container is always removed)',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'image reference in the store' })
      .positional('command', { type: 'string', array: true, default: [], describe: 'command and arguments, options included (default: the image CMD)' })
      .option('rm', { type: 'boolean', default: true, describe: 'remove the container afterwards (always; tsbuild keeps no containers)' })
      .option('keep', { type: 'boolean', default: false, describe: 'not supported: tsbuild keeps no containers' })
      .option('volume', listOption('bind mount HOST:CONTAINER[:ro]', 'v'))
      .option('env', listOption('environment variable K=V (K alone: from this environment)', 'e'))
      .option('env-file', listOption('file of K=V lines (docker --env-file)'))
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory inside the container' })
      .option('user', { alias: 'u', type: 'string', describe: 'user (name, uid, name:group or uid:gid)' })
      .option('network', { choices: ['default', 'host', 'none'] as const, default: 'default' as const, describe: 'network namespace' })
      .option('entrypoint', { type: 'string', describe: 'override the image ENTRYPOINT' })
      .option('platform', { type: 'string', describe: 'platform of the image to run (foreign ones under QEMU)' })
      .option('runtime', { type: 'string', describe: 'OCI runtime binary (default: runc)' })
      .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'pass stdin to the process' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'not supported (no pseudo-terminal): use -i' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'not supported: use docker run -d or podman run -d' })
      .option('publish', listOption('not supported (no port mapping): use --network host, or docker/podman run -p', 'p'))
      .option('name', { type: 'string', describe: 'the container id (docker name syntax); default: a fresh one' })
      .option('hostname', { type: 'string', describe: 'hostname inside the container' })
      .option('read-only', { type: 'boolean', default: false, describe: 'mount the root filesystem read-only' }) as never,
  handler: async (argv) => {
    if (argv.rm === false || argv.keep) refuse(argv.keep ? '--keep' : '--rm=false', 'tsbuild keeps no containers: copy what you need out through a -v bind mount');
    if (argv.tty) refuse('-t/--tty (no pseudo-terminal)', 'use -i alone (stdin as a pipe), or docker run -it / podman run -it');
    if (argv.detach) refuse('-d/--detach', 'run it in the foreground (tsbuild run IMAGE … &), or use docker run -d / podman run -d');
    if (argv.publish.length > 0) refuse(`-p/--publish ${argv.publish[0]}`, 'with --network host (the default) the ports are the host\'s; or use docker run -p / podman run -p');
    const logger = loggerFor(argv);
    const store = await openStore(argv.root, logger);
    const runtime = await openRuntime(argv.runtime, logger, argv.root);
    // As docker run does, SIGINT and SIGTERM go to the process (runc) and its exit status is ours; anything else
    // that stops the command (a closed output pipe) kills it. A second signal exits at once (context.ts), the
    // runc supervisor then removing the container. The chroot fallback cannot forward: a signal kills it there.
    const forward = runtime.name === 'runc';
    const ac = new AbortController();
    const onAbort = (): void => {
      const why = argv.signal?.reason as unknown;
      if (!forward || !(why instanceof Error && why.message.startsWith('interrupted by'))) ac.abort(why);
    };
    if (argv.signal?.aborted) ac.abort(argv.signal.reason);
    argv.signal?.addEventListener('abort', onAbort, { once: true });
    // `--` (put after IMAGE by separateRunCommand, or the user's own) leaves the command in `_`, after `run`.
    const cmd = [...argv.command, ...argv._.slice(1)].map(String);
    try {
      process.exitCode = await runImage({
        store, runtime, image: argv.image, cmd,
        entrypoint: argv.entrypoint !== undefined ? (argv.entrypoint === '' ? [] : [argv.entrypoint]) : undefined,
        env: argv.env, envFiles: argv['env-file'], workdir: argv.workdir, user: argv.user, network: argv.network, volumes: argv.volume,
        platform: argv.platform ? parsePlatform(argv.platform) : undefined,
        name: argv.name, hostname: argv.hostname, readOnly: argv['read-only'],
        stdin: argv.interactive ? process.stdin : undefined,
        stdout: process.stdout, stderr: process.stderr, signal: ac.signal,
        signals: forward ? processSignals : undefined,
      });
    } finally {
      argv.signal?.removeEventListener('abort', onAbort);
      if (argv.interactive) process.stdin.destroy();
    }
  },
};
