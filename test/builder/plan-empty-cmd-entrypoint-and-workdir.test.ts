// CMD [] and ENTRYPOINT [] leave the field out of the config (BuildKit's nil/empty list under omitempty); WORKDIR
// resolves as BuildKit's NormalizeWorkdir: a relative path is joined and cleaned, an absolute one kept as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { toStages } from '../../builder/frontend/stages/index.js';
import { applyMetadata, applyWorkdir, emptyConfig, type MetadataInstruction } from '../../builder/plan/index.js';

const platform = { os: 'linux', architecture: 'amd64' };

function configOf(lines: string[], base = emptyConfig(platform)) {
  const { stages } = toStages(parseDockerfile(['FROM scratch', ...lines].join('\n') + '\n'));
  let cmdSet = false;
  for (const ins of stages[0]!.commands) {
    if (ins.kind === 'cmd') cmdSet = true;
    applyMetadata(base, ins as MetadataInstruction, { time: '1970-01-01T00:00:00Z', cmdSet });
  }
  return base;
}

test('CMD [] and ENTRYPOINT [] are left out of the config, with their history entries', () => {
  const c = configOf(['ENTRYPOINT ["/bin/bash"]', 'CMD []']);
  assert.deepEqual(c.config?.Entrypoint, ['/bin/bash']);
  assert.equal('Cmd' in c.config!, false);
  assert.ok(JSON.stringify(c).indexOf('"Cmd"') === -1);
  assert.deepEqual(c.history?.map((h) => h.created_by), ['ENTRYPOINT ["/bin/bash"]', 'CMD []']);
  const e = configOf(['ENTRYPOINT []']);
  assert.equal('Entrypoint' in e.config!, false);
  assert.equal(e.history?.[0]?.created_by, 'ENTRYPOINT []');
});

test('ENTRYPOINT [] over an inherited ENTRYPOINT and CMD drops both; a CMD of the same stage stays', () => {
  const base = emptyConfig(platform);
  base.config = { ...base.config, Entrypoint: ['/bin/echo'], Cmd: ['hi'] };
  const c = configOf(['ENTRYPOINT []'], base);
  assert.equal('Entrypoint' in c.config!, false);
  assert.equal('Cmd' in c.config!, false);
  const kept = configOf(['CMD ["a"]', 'ENTRYPOINT []']);
  assert.deepEqual(kept.config?.Cmd, ['a']);
});

test('WORKDIR: relative paths are joined and cleaned, absolute ones kept as written; scratch starts at /', () => {
  const c = emptyConfig(platform);
  assert.equal(c.config?.WorkingDir, '/');
  assert.equal(applyWorkdir(c, '/test1'), '/test1');
  assert.equal(applyWorkdir(c, 'test2/'), '/test1/test2');
  assert.equal(applyWorkdir(c, '../x/./y//'), '/test1/x/y');
  assert.equal(applyWorkdir(c, '/abs/'), '/abs/', 'an absolute path is not cleaned (NormalizeWorkdir on Linux)');
  assert.equal(applyWorkdir(c, 'sub'), '/abs/sub');
  const rel = emptyConfig(platform);
  rel.config!.WorkingDir = 'base';
  assert.equal(applyWorkdir(rel, 'sub'), '/base/sub', 'a relative working dir of the base is rooted at /');
});
