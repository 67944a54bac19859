/**
 * `tsbuild inspect` (docker's shape) and `--format` (Go's text/template with docker's functions) checked against
 * podman, whose `image inspect --format` is Go's text/template with the same functions, on the same image: tsbuild
 * imports a tar from stdin with `--change`s, `save`s it to stdout as a docker-archive, podman loads it, and every
 * template must print the same bytes in both.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSBUILD_LAUNCHER, runCli } from '../helpers/cli.js';

const PODMAN = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));

let dir: string;
let root: string;
let podmanArgs: string[];
let id: string;

const CHANGES = [
  'ENV A=1 PATH=/usr/bin:/bin', 'ENV B=$A', 'CMD ["/bin/sh", "-c", "echo hi"]', 'EXPOSE 80 53/udp', 'LABEL x=y "a b"=c empty=',
  'WORKDIR /app', 'WORKDIR sub', 'VOLUME /data /cache', 'USER 1000:1000', 'STOPSIGNAL SIGTERM',
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-podman-tmpl-'));
  root = join(dir, 'root');
  await mkdir(join(dir, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(dir, 'rootfs', 'etc', 'motd'), 'hello <&> world\n');
  // GNU tar writes the rootfs to tsbuild's stdin: `tar -c . | tsbuild import -c … - NAME`.
  const tarBytes = execFileSync('tar', ['-C', join(dir, 'rootfs'), '-c', '.']);
  const imp = spawnSync(TSBUILD_LAUNCHER, ['--root', root, 'import', ...CHANGES.flatMap((c) => ['-c', c]), '-m', 'made for <podman>', '-', 'tmpl/app:1'], { input: tarBytes, encoding: 'utf8' });
  assert.equal(imp.status, 0, imp.stderr);
  id = imp.stdout.trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  if (!PODMAN) return;
  // `tsbuild save` with no -o writes the archive to stdout (a pipe here).
  const saved = spawnSync(TSBUILD_LAUNCHER, ['--root', root, 'save', '--format', 'docker', 'tmpl/app:1'], { maxBuffer: 1 << 26 });
  assert.equal(saved.status, 0, String(saved.stderr));
  await writeFile(join(dir, 'app.tar'), saved.stdout);
  podmanArgs = ['--root', join(dir, 'podman', 'root'), '--runroot', join(dir, 'podman', 'run'), '--storage-driver', 'vfs'];
  execFileSync(PODMAN, [...podmanArgs, 'load', '-i', join(dir, 'app.tar')], { env: { ...process.env, TMPDIR: dir }, stdio: 'pipe' });
});

after(async () => {
  if (PODMAN && podmanArgs) spawnSync(PODMAN, [...podmanArgs, 'system', 'reset', '-f'], { stdio: 'ignore' });
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Templates over the fields docker's and podman's inspect share, exercising the language and the functions. */
const TEMPLATES = [
  '{{.Os}}/{{.Architecture}}',
  '{{.Config.Env}}',
  '{{json .Config.Env}}',
  '{{range .Config.Env}}[{{.}}]{{end}}',
  '{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}',
  '{{range $i, $e := .Config.Env}}{{if $i}},{{end}}{{$e}}{{end}}',
  '{{index .Config.Labels "x"}}|{{index .Config.Labels "nope"}}|{{.Config.Labels.x}}|{{.Config.Labels.nope}}',
  '{{.Config.Labels}}',
  '{{json .Config.Labels}}',
  '{{range $k, $v := .Config.Labels}}{{$k}}=>{{$v}} {{end}}',
  '{{.Config.ExposedPorts}} {{json .Config.ExposedPorts}} {{len .Config.ExposedPorts}}',
  '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}',
  '{{.Config.Volumes}}',
  '{{join .Config.Cmd " "}} {{.Config.Cmd}} {{len .Config.Cmd}} {{index .Config.Cmd 2}}',
  '{{.Config.Entrypoint}} {{json .Config.Entrypoint}} {{len .Config.Entrypoint}}',
  '{{.Config.WorkingDir}} {{.Config.User}} {{.Config.StopSignal}}',
  '{{len .RootFS.Layers}} {{.RootFS.Type}} {{index .RootFS.Layers 0}}',
  '{{if .Config.Labels}}labels{{else}}none{{end}} {{if .Config.Entrypoint}}ep{{else}}no ep{{end}}',
  '{{if eq .Os "windows"}}W{{else if eq .Os "linux"}}L{{else}}?{{end}}',
  '{{if and .Config.Env (not .Config.Entrypoint)}}yes{{end}} {{or .Config.Entrypoint "fallback"}} {{and 1 0 2}} {{or 0 "" 3}}',
  '{{if ne .Config.User "root"}}unprivileged{{end}} {{if lt 1 2}}lt{{end}} {{if ge 2.5 2.5}}ge{{end}} {{if gt "b" "a"}}gt{{end}}',
  '{{eq .Os "darwin" "linux"}} {{eq 1 1}} {{ne "a" "b"}} {{le 3 2}}',
  '{{printf "%s-%d-%q-%v-%5.2f-%x-%-6s|-%06d-%t-%c" .Os 42 .Config.WorkingDir .Config.Cmd 3.14159 255 "ab" 42 true 65}}',
  '{{printf "%v %v %s" .Config.Labels .Config.ExposedPorts .Config.Env}}',
  '{{printf "%d" "x"}} {{printf "%s"}} {{printf "a" 1}}',
  '{{lower "ABC"}} {{upper .Os}} {{title "hello world-wide"}}',
  '{{split "a,b,,c" ","}} {{len (split "a,b" ",")}} {{join (split "x:y:z" ":") "+"}}',
  '{{pad "x" 2 3}}| {{truncate "abcdef" 3}} {{truncate "ab" 5}}',
  '{{print 1 2 "a" "b" 3 .Config.Cmd}}|{{println "a" 1}}|',
  '{{html "<a href=\'x\'>&</a>"}} {{js "a\'b\\"c<d>"}} {{urlquery "a b&c=d/é"}}',
  '{{slice "abcdef" 1 3}} {{slice .Config.Env 1}} {{index "abc" 1}}',
  '{{with .Config.WorkingDir}}wd={{.}}{{end}} {{with .Config.Entrypoint}}never{{else}}else-with{{end}}',
  '{{$x := .Os}}{{$x}} {{$x = "changed"}}{{$x}}',
  '{{range .Config.Env}}{{if eq . "B=1"}}{{break}}{{end}}{{.}};{{end}}',
  '{{range .Config.Env}}{{if eq . "A=1"}}{{continue}}{{end}}{{.}};{{end}}',
  '{{range .Config.Entrypoint}}x{{else}}empty range{{end}}',
  '{{- /* a comment */ -}}  {{.Os -}}   |   {{- .Architecture}}  {{- "x" }}',
  'a {{- " b " -}} c {{"d"}}\n{{- "e"}}',
  '{{.Config.Cmd | len}} {{"abc" | printf "%s-%s" "x"}} {{.Os | upper | printf "[%s]"}}',
  '{{(index .Config.Cmd 0)}} {{(split "a/b" "/") | len}} {{len (index .Config.Env 0)}}',
  '{{`raw`}} {{"esc\\t\\u00e9"}} {{\'a\'}} {{0x1F}} {{1e3}} {{-5}} {{1_000}}',
  '{{json .Config.Volumes}} {{json .RootFS.Type}} {{json 3}} {{json "<&>"}} {{json true}}',
];

test('inspect --format prints what podman image inspect --format prints, for every template', { skip: !PODMAN && 'podman not installed' }, () => {
  for (const t of TEMPLATES) {
    const ours = runCli(['--root', root, 'inspect', '--format', t, 'tmpl/app:1']);
    assert.equal(ours.code, 0, `${t}: ${ours.stderr}`);
    const theirs = spawnSync(PODMAN!, [...podmanArgs, 'image', 'inspect', '--format', t, 'docker.io/tmpl/app:1'], { encoding: 'utf8' });
    assert.equal(theirs.status, 0, `${t}: podman: ${theirs.stderr}`);
    assert.equal(ours.stdout, theirs.stdout, `template ${t}`);
  }
});

test('inspect prints docker\'s image inspect array; the config podman reads from the saved archive is the one shown', { skip: !PODMAN && 'podman not installed' }, () => {
  const ours = runCli(['--root', root, 'inspect', 'tmpl/app:1']);
  assert.equal(ours.code, 0, ours.stderr);
  assert.match(ours.stdout, /^\[\n {4}\{\n {8}"Id": "sha256:/, 'a JSON array indented with 4 spaces, Id first');
  const [d] = JSON.parse(ours.stdout) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(d!), ['Id', 'RepoTags', 'RepoDigests', 'Parent', 'Comment', 'Created', 'DockerVersion', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'GraphDriver', 'RootFS', 'Metadata', 'Descriptor']);
  assert.equal(d!['Id'], id);
  assert.deepEqual(d!['RepoTags'], ['tmpl/app:1']);
  assert.match((d!['RepoDigests'] as string[])[0]!, /^tmpl\/app@sha256:[0-9a-f]{64}$/);
  assert.equal(d!['Comment'], 'made for <podman>');
  assert.match(ours.stdout, /"Comment": "made for \\u003cpodman\\u003e"/, 'HTML characters escaped as docker\'s daemon writes them');
  const cfg = d!['Config'] as Record<string, unknown>;
  assert.deepEqual(Object.keys(cfg), ['User', 'ExposedPorts', 'Env', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal'], 'empty fields are left out (omitempty), the rest in docker\'s order');
  const [p] = JSON.parse(execFileSync(PODMAN!, [...podmanArgs, 'image', 'inspect', 'docker.io/tmpl/app:1'], { encoding: 'utf8' })) as Record<string, unknown>[];
  assert.equal(p!['Id'], id.slice(7), 'podman computes the same image ID');
  for (const k of ['Architecture', 'Os']) assert.equal(d![k], p![k], k);
  assert.deepEqual((d!['RootFS'] as { Layers: string[] }).Layers, (p!['RootFS'] as { Layers: string[] }).Layers);
  const pc = p!['Config'] as Record<string, unknown>;
  for (const k of Object.keys(cfg)) assert.deepEqual(cfg[k], pc[k], `Config.${k}`);
  assert.deepEqual(cfg['Env'], ['A=1', 'PATH=/usr/bin:/bin', 'B=1'], 'ENV expands with the env set by earlier changes');
  assert.equal(cfg['WorkingDir'], '/app/sub', 'a relative WORKDIR resolves against the previous one');
  assert.deepEqual(cfg['ExposedPorts'], { '53/udp': {}, '80/tcp': {} });
});

test('--oci prints the OCI descriptor, manifest and config', () => {
  const r = runCli(['--root', root, 'inspect', '--oci', 'tmpl/app:1']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { Id: string; Manifest: { layers: unknown[] }; Config: { config: { Env: string[] } } };
  assert.equal(o.Id, id);
  assert.equal(o.Manifest.layers.length, 1);
  assert.deepEqual(o.Config.config.Env, ['A=1', 'PATH=/usr/bin:/bin', 'B=1']);
});

test('a template that does not parse or names an unknown field is one usage error naming the template', () => {
  const cases: [string, RegExp][] = [
    ['{{.Nope}}', /invalid --format template "\{\{\.Nope\}\}": template: :1:2: executing "" at <\.Nope>: map has no entry for key "Nope"/],
    ['{{.Config.Nope}}', /at <\.Config\.Nope>: map has no entry for key "Nope"/],
    ['{{nofunc .Os}}', /template: :1: function "nofunc" not defined/],
    ['{{.Os', /template: :1: unclosed action/],
    ['{{if .Os}}x', /template: :1: unexpected EOF/],
    ['{{end}}', /unexpected \{\{end\}\}/],
    ['{{lower 5}}', /at <lower 5>: wrong type for value; expected string; got int/],
    ['{{index .RootFS.Layers 9}}', /error calling index: index out of range: 9/],
  ];
  for (const [t, re] of cases) {
    const r = runCli(['--root', root, 'inspect', '--format', t, 'tmpl/app:1']);
    assert.equal(r.code, 2, `${t}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re, t);
    assert.equal(r.stdout, '', 'nothing printed before the error');
  }
});

test('history of an imported image: docker\'s columns, comment and --format', async () => {
  const r = runCli(['--root', root, 'history', 'tmpl/app:1']);
  assert.equal(r.code, 0, r.stderr);
  const [head, row] = r.stdout.split('\n');
  assert.match(head!, /^IMAGE {10}CREATED {4,}CREATED BY {3}SIZE {6}COMMENT$/);
  assert.match(row!, new RegExp(`^${id.slice(7, 19)}   .* ago +\\d+(\\.\\d+)?k?B +made for <podman>$`));
  const f = runCli(['--root', root, 'history', '--no-trunc', '--format', '{{.ID}}|{{.Comment}}|{{.CreatedBy}}', 'tmpl/app:1']);
  assert.equal(f.stdout, `${id}|made for <podman>|\n`);
  const j = runCli(['--root', root, 'history', '--format', 'json', 'tmpl/app:1']);
  assert.deepEqual(Object.keys(JSON.parse(j.stdout.trim()) as object), ['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size'], 'docker\'s json: keys sorted');
  assert.ok(await readFile(join(dir, 'rootfs', 'etc', 'motd')));
});
