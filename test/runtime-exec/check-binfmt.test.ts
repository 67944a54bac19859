import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hostPlatform } from '../../layer-store/core/index.js';
import { BinfmtMissingError, checkBinfmt } from '../../runtime-exec/index.js';

test('checkBinfmt accepts the host platform and explains a missing or disabled qemu handler', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-test-binfmt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await checkBinfmt(hostPlatform(), dir);
  const foreign = hostPlatform().architecture === 's390x' ? { os: 'linux', architecture: 'arm64' } : { os: 'linux', architecture: 's390x' };
  const qemu = foreign.architecture === 's390x' ? 's390x' : 'aarch64';
  // binfmt_misc not mounted (no status file)
  await assert.rejects(checkBinfmt(foreign, dir), (e: unknown) => e instanceof BinfmtMissingError && /not mounted/.test(e.message) && /mount -t binfmt_misc/.test(e.hint ?? ''));
  await writeFile(join(dir, 'status'), 'enabled\n');
  await assert.rejects(checkBinfmt(foreign, dir), (e: unknown) => e instanceof BinfmtMissingError && /qemu-user-static/.test(e.hint ?? '') && e.hint!.includes(`/usr/lib/binfmt.d/qemu-${qemu}.conf`));
  await writeFile(join(dir, `qemu-${qemu}`), 'disabled\ninterpreter /usr/libexec/qemu-binfmt/x\n');
  await assert.rejects(checkBinfmt(foreign, dir), /disabled/);
  await writeFile(join(dir, `qemu-${qemu}`), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/x\n');
  await checkBinfmt(foreign, dir);
  await assert.rejects(checkBinfmt({ os: 'windows', architecture: 'amd64' }, dir), BinfmtMissingError);
});
