/**
 * RUN: the command in a container (ctx.o.runtime) over an overlay of the stage's layers, its mounts
 * materialised (run-mounts.ts), its output streamed as step.log events; the upper dir becomes the layer.
 * Keyed by plan's runKey (argv, user, cwd, network, security, a shebang script, the build's RUN settings:
 * run-spec.ts), the stage env and the mounts' key material.
 */
import { join, posix } from 'node:path';
import { Writable } from 'node:stream';
import { inUserNamespace } from '../../../layer-store/core/index.js';
import { CHROOT_ETC_FILES, checkBinfmt, isNativePlatform, resolveUser, type NetworkMode } from '../../../runtime-exec/index.js';
import type { MountKey, StepInputs } from '../../../cache/index.js';
import type { RunInstruction, RunMount } from '../../frontend/index.js';
import type { SelectedSource } from '../../context/index.js';
import { StepFailedError, commitHistory, runCommand, runCreatedBy, runKey } from '../../plan/index.js';
import { insecureNotAllowed } from '../entitlements.js';
import { cachedStep, stepInputs } from '../cached-step.js';
import { loc, type StepCall } from '../context.js';
import { commitUpper, lowerDirs, releaseAll, scratchDirs } from '../workspace.js';
import { chrootIsolation, withPlainRootfs } from '../plain-workspace.js';
import { refuseUnderChroot } from './run-chroot.js';
import { withSpeculation } from '../speculate.js';
import { mountKey, runMounts } from './run-mounts.js';
import { buildRunSpec, runScriptMount, runSpecKey } from './run-spec.js';

/** Lines of output a failing RUN's error repeats. */
const TAIL_LINES = 20;

/**
 * Runs one RUN step through the cache; appends its layer (if it changed anything) and its history entry.
 * `mounts`: the instruction's mounts expanded by plan's expandRunMounts (the stage loop does it before the step starts).
 */
export async function runStep(call: StepCall, ins: RunInstruction, mounts: readonly RunMount[]): Promise<void> {
  const { ctx, stage: rs, state: st, scope, id } = call;
  const security = ins.security ?? 'sandbox';
  if (security === 'insecure' && !ctx.o.allow?.includes('security.insecure')) throw insecureNotAllowed(ins.location);
  const { args, script } = runCommand(st.config, ins);
  const runEnv = scope.runEnv();
  const env = new Map<string, string>();
  for (const e of st.config.config?.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const [k, v] of runEnv) env.set(k, v);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  const network: NetworkMode = ins.network ?? ctx.o.network ?? 'default';
  const chroot = chrootIsolation(ctx);
  if (chroot) refuseUnderChroot(ins, mounts, network);
  const user = st.config.config?.User ?? '';
  const cwd = st.config.config?.WorkingDir || '/';
  const mountKeys: MountKey[] = [];
  const selected = new Map<RunMount, SelectedSource>();
  for (const m of mounts) mountKeys.push(await mountKey(ctx, rs, m, selected));
  const settings = buildRunSpec(ctx.o);
  const key = runKey(args, { user, cwd, network, security, ...(script ? { script: script.data } : {}), ...runSpecKey(settings) });
  const inputs: StepInputs = { ...stepInputs(call, key, true), mounts: mountKeys };
  const historyArgs = scope.historyArgs();
  const r = await cachedStep(call, inputs, async () => {
    if (!isNativePlatform(st.platform)) await checkBinfmt(st.platform);
    const s = await scratchDirs(ctx, 'run', { merged: chroot }); // chroot isolation writes a plain copy there
    const cleanups: (() => Promise<void>)[] = [];
    // A layer still being identified is run on where its step wrote it, held until the container is gone (last).
    const holds: (() => void)[] = [];
    cleanups.push(async () => releaseAll(holds));
    try {
      const lower = await lowerDirs(ctx, st.layers, holds);
      s.lower = lower;
      const runUser = await resolveUser(lower, user);
      const rtMounts = await runMounts(ctx, rs, mounts, selected, runUser, s, cleanups);
      if (script) {
        const m = await runScriptMount(s, script);
        // Chroot isolation copies files in, never directories: the script alone, at the same path.
        rtMounts.mounts.push(chroot && m.type === 'bind' ? { ...m, source: join(m.source, script.name), target: posix.join(m.target, script.name) } : m);
      }
      // Secrets exposed as variables: seen by the step only, never in the key, the config or the history.
      const stepEnv = new Map([...rtMounts.defaults, ...env, ...rtMounts.env]);
      const tail: string[] = [];
      const sink = (stream: 'stdout' | 'stderr'): Writable => new Writable({
        write(chunk: Buffer, _e, cb) {
          const data = chunk.toString('utf8');
          ctx.events({ type: 'step.log', id, stream, data });
          for (const l of data.split('\n')) if (l.trim()) tail.push(l);
          if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
          cb();
        },
      });
      const run = (rootfs: { lower: readonly string[]; upper: string; work: string }) => ctx.o.runtime.run({
        commands: ctx.commands,
        rootfs,
        args,
        env: [...stepEnv].map(([k, v]) => `${k}=${v}`),
        cwd,
        user: runUser,
        network,
        security,
        mounts: rtMounts.mounts,
        ...(ctx.o.limits ? { limits: ctx.o.limits } : {}),
        ...settings,
        platform: st.platform,
      }, { stdout: sink('stdout'), stderr: sink('stderr') }, ctx.signal);
      // Chroot isolation: the step writes a plain copy of the layers; the walk of it fills the upper dir.
      const { exitCode } = chroot
        ? await withPlainRootfs(ctx, lower, s, (root) => run({ lower: [], upper: root, work: s.work }), [...CHROOT_ETC_FILES, ...rtMounts.mounts.map((m) => m.target.replace(/^\/+/, ''))])
        : await withSpeculation(ctx, s, cleanups, () => run({ lower, upper: s.upper, work: s.work }));
      if (exitCode !== 0) {
        throw new StepFailedError(args.join(' '), exitCode, tail, { location: loc(ins.location), ...rootlessHint(tail) });
      }
      const layer = await commitUpper(ctx, s, id, { keepEmpty: true, location: loc(ins.location) });
      return layer ? { layer } : {};
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }
  });
  if (r.layer) st.layers.push(r.layer);
  commitHistory(st.config, runCreatedBy(args, historyArgs), r.layer !== undefined, st.time);
}

/**
 * Rootless (a user namespace), a step refused a privilege ("Operation not permitted"): the hint names what the
 * user namespace cannot give (device nodes, mounts, host-owned files), instead of the generic "fix the command".
 */
function rootlessHint(tail: readonly string[]): { hint?: string } {
  if (!inUserNamespace() || !tail.some((l) => /Operation not permitted|Permission denied/.test(l))) return {};
  const what = tail.some((l) => /mknod/.test(l)) ? 'making device nodes (CAP_MKNOD on the host)'
    : tail.some((l) => /mount/.test(l)) ? 'mounting filesystems other than those a user namespace may mount'
      : 'a privilege of the host\'s root';
  return { hint: `the step needs ${what}, which a rootless build does not have; build as root for it` };
}
