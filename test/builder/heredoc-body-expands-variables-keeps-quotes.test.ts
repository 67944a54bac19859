// An unquoted COPY/ADD heredoc body is expanded as BuildKit's ExpandRaw does: variables and `\` escapes are
// processed, quotes are ordinary characters, the escape is `\` whatever the escape directive; quoted heredocs
// and RUN heredocs are left alone; a shebang heredoc is run as a file (plan's runCommand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../builder/frontend/parser/index.js';
import { StageScope, resolveStageGraph, toStages } from '../../builder/frontend/stages/index.js';
import { emptyConfig, runCommand } from '../../builder/plan/index.js';

function expanded(text: string): string[] {
  const ast = parseDockerfile(text);
  const { stages, metaArgs } = toStages(ast);
  const buildArgs = {};
  const g = resolveStageGraph(stages, metaArgs, { buildArgs, platform: { build: { os: 'linux', architecture: 'amd64' } } });
  const scope = new StageScope({ metaScope: g.metaScope, buildArgs, ...(ast.directives.escape ? { escapeToken: ast.directives.escape } : {}) });
  const out: string[] = [];
  for (const c of stages[0]!.commands) {
    const e = scope.apply(c);
    if (e.kind === 'copy' || e.kind === 'add') out.push(...e.sourceContents.map((s) => s.data));
  }
  return out;
}

test('variables expand, quotes stay, \\ escapes $ and itself, single quotes do not protect', () => {
  const got = expanded([
    'FROM busybox', 'ARG name=world',
    'COPY <<EOF /a', `Hello '\${name}' "$name" \\$name \\\\ \${missing:-dflt}`, 'EOF',
    'COPY <<-EOF /b', '\t\tx=$name', '\ty', 'EOF',
    "ADD <<'EOF' /c", 'raw $name "q"', 'EOF',
  ].join('\n') + '\n');
  assert.deepEqual(got, [`Hello 'world' "world" $name \\ dflt\n`, 'x=world\ny\n', 'raw $name "q"\n']);
});

test('the escape directive does not change the heredoc escape', () => {
  const got = expanded(['# escape=`', 'FROM busybox', 'ARG v=1', 'COPY <<EOF /a', '\\$v `$v', 'EOF'].join('\n') + '\n');
  assert.deepEqual(got, ['$v `1\n']);
});

test('RUN <<EOF starting with #! runs as a file in /dev/pipes; other heredocs run in the shell', () => {
  const run = (text: string) => {
    const ins = toStages(parseDockerfile(text)).stages[0]!.commands[0]!;
    assert.ok(ins.kind === 'run');
    return runCommand(emptyConfig({ os: 'linux', architecture: 'amd64' }), ins);
  };
  assert.deepEqual(run('FROM x\nRUN <<-EOT\n\t#!/bin/awk -f\n\tBEGIN { print 1 }\nEOT\n'), {
    args: ['/bin/sh', '-c', '/dev/pipes/EOT'], script: { name: 'EOT', data: '#!/bin/awk -f\nBEGIN { print 1 }\n' },
  });
  assert.deepEqual(run('FROM x\nRUN <<EOF\necho $HOME\nEOF\n'), { args: ['/bin/sh', '-c', 'echo $HOME\n'] });
  assert.deepEqual(run('FROM x\nRUN cat <<EOF\n#!/bin/sh\nEOF\n'), { args: ['/bin/sh', '-c', 'cat <<EOF\n#!/bin/sh\nEOF'] });
});
