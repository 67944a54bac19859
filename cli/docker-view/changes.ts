/**
 * `import -c/--change` (and `commit --change`-style edits): Dockerfile instructions applied to an image's runtime
 * config as docker's BuildFromConfig does, parsed by the builder's own Dockerfile parser and instruction layer and
 * expanded with the config's Env. Pure.
 */
import {
  DockerfileError, envFromList, expandInstruction, parseDockerfile, parseInstruction, processWord, processWords,
  type Instruction,
} from '../../builder/index.js';
import { TsbuildError, type ContainerConfig } from '../../layer-store/index.js';

/** The instructions a change may use: docker's validCommitCommands, plus SHELL (docker refuses it; it is harmless). */
export const CHANGE_INSTRUCTIONS: readonly string[] = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

function changeError(change: string, what: string): TsbuildError {
  return new TsbuildError('USAGE', `invalid --change ${JSON.stringify(change)}: ${what}`, {
    hint: `a change is one Dockerfile instruction: ${CHANGE_INSTRUCTIONS.join(', ')}`,
  });
}

/** Returns `"80"` → `["80/tcp"]`, `"8000-8001/udp"` → `["8000/udp", "8001/udp"]` (docker's nat.ParsePortSpecs). */
function exposedPorts(spec: string, change: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw changeError(change, `invalid port ${JSON.stringify(spec)}`);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (hi < lo || hi > 65535) throw changeError(change, `invalid port range ${JSON.stringify(spec)}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: hi - lo + 1 }, (_, i) => `${lo + i}/${proto}`);
}

function posixJoin(base: string, p: string): string {
  const parts = (p.startsWith('/') ? p : `${base || '/'}/${p}`).split('/');
  const out: string[] = [];
  for (const s of parts) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return '/' + out.join('/');
}

/**
 * Returns `config` with each change applied in order: ENV and LABEL set keys, CMD/ENTRYPOINT take JSON or shell
 * form (the shell from SHELL, default `/bin/sh -c`; ENTRYPOINT clears a CMD not set by an earlier change, as
 * docker does), WORKDIR resolves against the current one, EXPOSE adds `PORT/PROTO` keys, VOLUME adds paths, USER,
 * STOPSIGNAL and SHELL replace, ONBUILD appends its trigger, HEALTHCHECK sets the check (NONE disables it).
 * Words are expanded with the config's Env as the builder expands them. Throws a usage error naming the change
 * for any other instruction or a change that does not parse.
 */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const c: ContainerConfig = structuredClone(config);
  let cmdSet = false;
  for (const change of changes) {
    let ins: Instruction[];
    try {
      const ast = parseDockerfile(change, { file: '--change' });
      ins = ast.children.map((n) => parseInstruction(n, '--change'));
    } catch (e) {
      if (e instanceof DockerfileError || TsbuildError.is(e)) throw changeError(change, (e as Error).message);
      throw e;
    }
    if (ins.length !== 1) throw changeError(change, ins.length === 0 ? 'no instruction' : 'one instruction per --change');
    const env = envFromList(c.Env ?? []);
    let i = ins[0]!;
    if (!CHANGE_INSTRUCTIONS.includes(i.kind.toUpperCase())) throw changeError(change, `${i.kind.toUpperCase()} is not a valid change command`);
    try {
      i = expandInstruction(i, { word: (w) => processWord(w, env), words: (w) => processWords(w, env) });
    } catch (e) {
      throw changeError(change, (e as Error).message);
    }
    const shellForm = (line: readonly string[], prepend: boolean): string[] => (prepend ? [...(c.Shell?.length ? c.Shell : ['/bin/sh', '-c']), line.join(' ')] : [...line]);
    switch (i.kind) {
      case 'env': {
        const list = [...(c.Env ?? [])];
        for (const p of i.pairs) {
          const at = list.findIndex((e) => e.split('=')[0] === p.key);
          if (at >= 0) list[at] = `${p.key}=${p.value}`;
          else list.push(`${p.key}=${p.value}`);
        }
        c.Env = list;
        break;
      }
      case 'label':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const p of i.pairs) c.Labels[p.key] = p.value;
        break;
      case 'cmd':
        c.Cmd = shellForm(i.cmdLine, i.prependShell);
        cmdSet = true;
        break;
      case 'entrypoint':
        c.Entrypoint = i.cmdLine.length === 0 && !i.prependShell ? null : shellForm(i.cmdLine, i.prependShell);
        if (!cmdSet) c.Cmd = null;
        break;
      case 'workdir':
        c.WorkingDir = posixJoin(c.WorkingDir ?? '/', i.path);
        break;
      case 'user': c.User = i.user; break;
      case 'stopsignal': c.StopSignal = i.signal; break;
      case 'shell': c.Shell = [...i.shell]; break;
      case 'expose': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of i.ports) for (const k of exposedPorts(p, change)) ports[k] = {};
        c.ExposedPorts = ports;
        break;
      }
      case 'volume': {
        const vols = { ...(c.Volumes ?? {}) };
        for (const v of i.volumes) {
          if (v.trim() === '') throw changeError(change, 'VOLUME specified can not be an empty string');
          vols[v] = {};
        }
        c.Volumes = vols;
        break;
      }
      case 'onbuild':
        c.OnBuild = [...(c.OnBuild ?? []), i.expression];
        break;
      case 'healthcheck': {
        const h = i.health;
        c.Healthcheck = {
          Test: [...h.test],
          ...(h.interval ? { Interval: h.interval } : {}), ...(h.timeout ? { Timeout: h.timeout } : {}),
          ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}), ...(h.startInterval ? { StartInterval: h.startInterval } : {}),
          ...(h.retries ? { Retries: h.retries } : {}),
        };
        break;
      }
      default:
        throw changeError(change, `${(i as Instruction).kind.toUpperCase()} is not a valid change command`);
    }
  }
  return c;
}
