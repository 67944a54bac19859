import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveUser, UserNotFoundError } from '../../runtime-exec/index.js';

async function layers(t: { after(fn: () => Promise<void>): void }) {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-test-user-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const lower = join(base, 'lower');
  const top = join(base, 'top');
  await mkdir(join(lower, 'etc'), { recursive: true });
  await mkdir(join(top, 'etc'), { recursive: true });
  await writeFile(join(lower, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  await writeFile(join(lower, 'etc/group'), 'root:x:0:\nwheel:x:10:app,other\napp:x:1000:\naudio:x:29:app\nstaff:x:50:\n');
  return { lower, top };
}

test('resolveUser resolves names, uids and groups through the image passwd and group', async (t) => {
  const { lower, top } = await layers(t);
  const dirs = [top, lower];
  assert.deepEqual(await resolveUser(dirs, 'app'), { uid: 1000, gid: 1000, additionalGids: [10, 29] });
  assert.deepEqual(await resolveUser(dirs, '1000'), { uid: 1000, gid: 1000, additionalGids: [10, 29] });
  assert.deepEqual(await resolveUser(dirs, 'root'), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveUser(dirs, ''), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveUser(dirs, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [] });
  assert.deepEqual(await resolveUser(dirs, '1234:4321'), { uid: 1234, gid: 4321, additionalGids: [] });
  assert.deepEqual(await resolveUser(dirs, '1234'), { uid: 1234, gid: 0, additionalGids: [] }, 'an unknown uid gets gid 0, as Docker');
  assert.deepEqual(await resolveUser(dirs, 'app:7'), { uid: 1000, gid: 7, additionalGids: [] });
});

test('resolveUser rejects unknown names with UserNotFoundError', async (t) => {
  const { lower, top } = await layers(t);
  await assert.rejects(resolveUser([top, lower], 'nobody'), (e: unknown) => e instanceof UserNotFoundError && /unable to find user nobody/.test(e.message) && e.hint !== undefined);
  await assert.rejects(resolveUser([top, lower], 'app:nogroup'), /unable to find group nogroup/);
  await assert.rejects(resolveUser([], 'app'), UserNotFoundError);
});

test('the top-most passwd wins and a whiteout hides lower ones', async (t) => {
  const { lower, top } = await layers(t);
  await writeFile(join(top, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:2000:2000::/home/app:/bin/sh\n');
  assert.equal((await resolveUser([top, lower], 'app')).uid, 2000);
  await rm(join(top, 'etc/passwd'));
  execFileSync('mknod', [join(top, 'etc/passwd'), 'c', '0', '0']);
  await assert.rejects(resolveUser([top, lower], 'app'), UserNotFoundError);
  await rm(join(top, 'etc/passwd'));
  await writeFile(join(top, 'etc/.wh.passwd'), '');
  await assert.rejects(resolveUser([top, lower], 'app'), UserNotFoundError);
  assert.deepEqual(await resolveUser([top, lower], '1000'), { uid: 1000, gid: 0, additionalGids: [] });
});
