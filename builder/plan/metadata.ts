/**
 * The metadata instructions applied to an image config (pure, BuildKit's dispatch of ENV, LABEL, EXPOSE, …):
 * each changes the config and appends its history entry, exactly as BuildKit writes them.
 *
 * Convention: the functions **mutate the config they are given in place** (and return nothing). That config is
 * the stage's own: the executor clones its base's config once when the stage starts (`cloneConfig`), so no
 * config of another stage or of a stored image is ever changed. Callers who want a new value clone first.
 * Errors are BuildError without a location; the executor adds the instruction's location on the way up.
 */
import { posix } from 'node:path';
import type { ImageConfig } from '../../layer-store/core/index.js';
import type { Instruction } from '../frontend/index.js';
import { addEnv, cc, commitHistory, exposedPortKeys, goDuration, isValidSignal } from './config.js';
import { BuildError } from './errors.js';
import { goList, goQuoteList } from './history.js';
import { withShell } from './argv.js';

/** The instructions that change only the config (no filesystem, no cache key): everything but FROM, RUN, COPY, ADD, WORKDIR. */
export type MetadataInstruction = Exclude<Instruction, { kind: 'from' | 'run' | 'copy' | 'add' | 'workdir' }>;

export interface MetadataOptions {
  /** The `created` time of the history entry (StageState.time). */
  readonly time: string;
  /** True once the stage (including this instruction) has a CMD: ENTRYPOINT then keeps it, else clears it. */
  readonly cmdSet: boolean;
}

/**
 * Applies one expanded metadata instruction to `config` (in place) and appends its history entry (none for
 * ONBUILD, as BuildKit). Throws BuildError for an empty VOLUME or an invalid STOPSIGNAL.
 */
export function applyMetadata(config: ImageConfig, ins: MetadataInstruction, o: MetadataOptions): void {
  const c = cc(config);
  const hist = (msg: string): void => commitHistory(config, msg, false, o.time);
  switch (ins.kind) {
    case 'env':
      for (const p of ins.pairs) c.Env = addEnv(c.Env, p.key, p.value);
      hist('ENV ' + ins.pairs.map((p) => `${p.key}=${p.value}`).join(' '));
      return;
    case 'arg':
      hist('ARG ' + ins.args.map((a) => (a.value !== undefined ? `${a.key}=${a.value}` : a.key)).join(' '));
      return;
    case 'label':
      c.Labels ??= {};
      for (const p of ins.pairs) c.Labels[p.key] = p.value;
      hist('LABEL ' + ins.pairs.map((p) => `${p.key}=${p.value}`).join(' '));
      return;
    case 'expose': {
      c.ExposedPorts ??= {};
      const keys = ins.ports.flatMap(exposedPortKeys);
      for (const k of keys) c.ExposedPorts[k] = {};
      // BuildKit prints its port list as Go's %v of a slice: in the instruction's (sorted) order, ranges expanded.
      hist(`EXPOSE ${goList(keys)}`);
      return;
    }
    case 'volume':
      c.Volumes ??= {};
      for (const v of ins.volumes) {
        if (v === '') throw new BuildError('VOLUME specified can not be an empty string', { hint: 'give VOLUME a path' });
        c.Volumes[v] = {};
      }
      hist(`VOLUME ${goList(ins.volumes)}`);
      return;
    case 'user':
      c.User = ins.user;
      hist(`USER ${ins.user}`);
      return;
    case 'cmd': {
      const args = ins.prependShell ? withShell(config, ins.cmdLine) : [...ins.cmdLine];
      c.Cmd = args;
      c.ArgsEscaped = true;
      hist(`CMD ${goQuoteList(args)}`);
      return;
    }
    case 'entrypoint': {
      const args = ins.prependShell ? withShell(config, ins.cmdLine) : [...ins.cmdLine];
      c.Entrypoint = args;
      if (!o.cmdSet) c.Cmd = null;
      hist(`ENTRYPOINT ${goQuoteList(args)}`);
      return;
    }
    case 'shell':
      c.Shell = [...ins.shell];
      hist(`SHELL ${goList(ins.shell)}`);
      return;
    case 'stopsignal':
      if (!isValidSignal(ins.signal)) throw new BuildError(`invalid STOPSIGNAL ${JSON.stringify(ins.signal)}`, { hint: 'use a signal name like SIGTERM or a number' });
      c.StopSignal = ins.signal;
      hist(`STOPSIGNAL ${ins.signal}`);
      return;
    case 'healthcheck': {
      const h = ins.health;
      c.Healthcheck = { Test: [...h.test], ...(h.interval ? { Interval: h.interval } : {}), ...(h.timeout ? { Timeout: h.timeout } : {}), ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}), ...(h.startInterval ? { StartInterval: h.startInterval } : {}), ...(h.retries ? { Retries: h.retries } : {}) };
      hist(`HEALTHCHECK &{Test:${goList(h.test)} Interval:${goDuration(h.interval)} Timeout:${goDuration(h.timeout)} StartPeriod:${goDuration(h.startPeriod)} StartInterval:${goDuration(h.startInterval)} Retries:${h.retries}}`);
      return;
    }
    case 'onbuild':
      c.OnBuild = [...(c.OnBuild ?? []), ins.expression];
      return;
    case 'maintainer':
      config.author = ins.maintainer;
      hist(`MAINTAINER ${ins.maintainer}`);
      return;
    default:
      return assertNever(ins);
  }
}

/**
 * WORKDIR's config part: sets `WorkingDir` in `config` (in place) to `path` resolved against the current one,
 * and returns it (absolute, normalised). Creating the directory is the executor's (execute/steps/workdir.ts).
 */
export function applyWorkdir(config: ImageConfig, path: string): string {
  const c = cc(config);
  const wd = posix.isAbsolute(path) ? posix.normalize(path) : posix.join(c.WorkingDir || '/', path);
  c.WorkingDir = wd;
  return wd;
}

function assertNever(x: never): never {
  throw new BuildError(`unexpected instruction ${(x as { kind: string }).kind}`, { hint: 'this is a bug in tsbuild' });
}
