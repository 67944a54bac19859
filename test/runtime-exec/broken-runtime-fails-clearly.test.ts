import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findRuntime } from '../../runtime-exec/index.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { collector, leaks, NO_LEAKS, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

// The runtime is not probed with `--version` when it is found (that cost every build ~10 ms); one that does not
// work must still fail with one clear error at its first run, not look like the step's command failing.
test('a --runtime that is not a working runc fails the run with a clear error and leaves nothing behind', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await findRuntime({ runtime: '/bin/false', tmpDir: s.tmp, logger: s.log });
  const snap = await snapshot(s);
  await assert.rejects(
    rt.run(specFor([rootfs.dir], s, ['true']), { stdout: collector(), stderr: collector() }, new AbortController().signal),
    (e: unknown) => (e as { code?: string }).code === 'RUNTIME_MISSING' && /\/bin\/false does not work/.test((e as Error).message),
  );
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
