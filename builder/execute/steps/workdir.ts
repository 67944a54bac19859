/** WORKDIR: sets the working dir (plan's applyWorkdir) and creates it, owned by USER, as a cached layer step. */
import { resolveUser } from '../../../runtime-exec/index.js';
import type { WorkdirInstruction } from '../../frontend/index.js';
import { applyWorkdir, commitHistory, workdirKey } from '../../plan/index.js';
import { cachedStep, stepInputs } from '../cached-step.js';
import { loc, type StepCall } from '../context.js';
import { mkdirAllScoped } from '../copy.js';
import { commitUpper, scratchDirs, withMerged } from '../workspace.js';

/** Runs WORKDIR: `/` changes only the config; any other dir is created (an empty layer when it exists already, as BuildKit's mkdir). */
export async function workdirStep(call: StepCall, ins: WorkdirInstruction): Promise<void> {
  const { ctx, state: st, id } = call;
  const wd = applyWorkdir(st.config, ins.path);
  if (wd === '/') {
    commitHistory(st.config, `WORKDIR ${wd}`, false, st.time);
    return;
  }
  const user = st.config.config?.User ?? '';
  const r = await cachedStep(call, stepInputs(call, workdirKey(wd, user)), async () => {
    const s = await scratchDirs(ctx, 'workdir');
    await withMerged(ctx, st.layers, s, async (merged) => {
      const owner = user ? await resolveUser(s.lower ?? [], user).catch(() => ({ uid: 0, gid: 0 })) : { uid: 0, gid: 0 };
      await mkdirAllScoped(merged, wd, { uid: owner.uid, gid: owner.gid });
    });
    const layer = await commitUpper(ctx, s, id, { keepEmpty: true, location: loc(ins.location) });
    return layer ? { layer } : {};
  });
  if (r.layer) st.layers.push(r.layer);
  commitHistory(st.config, `WORKDIR ${wd}`, r.layer !== undefined, st.time);
}
