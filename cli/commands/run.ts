import type { CommandModule } from 'yargs';
import { runImage } from '../../builder/index.js';
import { TsbuildError } from '../../layer-store/index.js';
import { parsePlatform } from '../api.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { listOption, parseSize } from '../options.js';
import { parseRunMount } from '../run-mounts.js';
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
  mount: string[];
  memory?: string;
  cpus?: number;
  'pids-limit'?: number;
  'cap-add': string[];
  'cap-drop': string[];
  init: boolean;
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

/**
 * `-t`: runc connects the container's pseudo-terminal to one of our stdio streams, so one must be a terminal;
 * with `-i` stdin must be one, as docker requires ("the input device is not a TTY").
 */
function checkTerminal(interactive: boolean): void {
  if (interactive && !process.stdin.isTTY) {
    throw new TsbuildError('USAGE', 'the input device is not a TTY (-it with stdin redirected)', { hint: 'drop -t to pass stdin as a pipe (tsbuild run -i …), or run it from a terminal' });
  }
  if (!process.stdin.isTTY && !process.stdout.isTTY && !process.stderr.isTTY) {
    throw new TsbuildError('USAGE', '-t needs a terminal: none of stdin, stdout and stderr is one', { hint: 'drop -t (output then comes through pipes), or run it from a terminal (or under `script -qc`)' });
  }
}

/** The cgroup limits of `--memory`, `--cpus` and `--pids-limit` (undefined when none is given). */
function runLimits(argv: RunArgs): { memoryBytes?: number; cpus?: number; pidsLimit?: number } | undefined {
  if (argv.memory === undefined && argv.cpus === undefined && argv['pids-limit'] === undefined) return undefined;
  if (argv.cpus !== undefined && !(argv.cpus > 0)) throw new TsbuildError('USAGE', `invalid --cpus ${argv.cpus}`, { hint: 'give a positive number, e.g. --cpus 1.5' });
  if (argv['pids-limit'] !== undefined && !Number.isInteger(argv['pids-limit'])) throw new TsbuildError('USAGE', `invalid --pids-limit ${argv['pids-limit']}`, { hint: 'give a whole number, e.g. --pids-limit 100' });
  return {
    ...(argv.memory !== undefined ? { memoryBytes: parseSize(argv.memory) } : {}),
    ...(argv.cpus !== undefined ? { cpus: argv.cpus } : {}),
    ...(argv['pids-limit'] !== undefined ? { pidsLimit: argv['pids-limit'] } : {}),
  };
}

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
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pseudo-terminal (connected to this terminal, resized with it)' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'not supported: use docker run -d or podman run -d' })
      .option('publish', listOption('not supported (no port mapping): use --network host, or docker/podman run -p', 'p'))
      .option('name', { type: 'string', describe: 'the container id (docker name syntax); default: a fresh one' })
      .option('hostname', { type: 'string', describe: 'hostname inside the container' })
      .option('read-only', { type: 'boolean', default: false, describe: 'mount the root filesystem read-only' })
      .option('mount', listOption('mount type=bind,source=DIR,target=PATH[,readonly] or type=tmpfs,target=PATH[,tmpfs-size=64m][,tmpfs-mode=1777]'))
      .option('memory', { alias: 'm', type: 'string', describe: 'memory limit (e.g. 512m, 2g)' })
      .option('cpus', { type: 'number', describe: 'number of CPUs (e.g. 1.5)' })
      .option('pids-limit', { type: 'number', describe: 'maximum number of processes' })
      .option('cap-add', listOption('add a Linux capability (NET_ADMIN, SYS_PTRACE, ALL)'))
      .option('cap-drop', listOption('drop a Linux capability (NET_RAW, ALL)'))
      .option('init', { type: 'boolean', default: false, describe: 'run an init (tini) as pid 1: it reaps zombies and forwards signals' })
      .example('$0 run --rm -e DEBUG=1 -v "$PWD:/src:ro" -w /src app:1 sh -c "ls -l"', 'check what an image sees')
      .example('$0 run -it --init --memory 512m debian:bookworm bash', 'an interactive shell with an init and a memory limit')
      .example('$0 run -i busybox sh < script.sh', 'feed a script on stdin') as never,
  handler: async (argv) => {
    if (argv.rm === false || argv.keep) refuse(argv.keep ? '--keep' : '--rm=false', 'tsbuild keeps no containers: copy what you need out through a -v bind mount');
    if (argv.tty) checkTerminal(argv.interactive);
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
        mounts: argv.mount.map(parseRunMount),
        limits: runLimits(argv),
        capAdd: argv['cap-add'], capDrop: argv['cap-drop'], init: argv.init, tty: argv.tty,
        stdin: argv.interactive ? process.stdin : undefined,
        stdout: process.stdout, stderr: process.stderr, signal: ac.signal,
        signals: forward ? processSignals : undefined,
      });
    } finally {
      argv.signal?.removeEventListener('abort', onAbort);
      if (argv.interactive && !argv.tty) process.stdin.destroy();
    }
  },
};
