/**
 * The README's tables for docker, skopeo and crane users say what the CLI does: every row of the tables under
 * "Image commands, `docker run`, skopeo and crane" has probes here (shell commands run with the real `tsbuild`
 * launcher against a store holding busybox and a loopback registry). A row marked supported or differs must run
 * (exit 0); a row marked refused or missing must exit non-zero with exactly one `error:` line. A row without
 * probes, or probes for a row that is gone, fail the test: the table and this list change together.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';

/**
 * Probes per row, keyed by the row's first cell as written in the README (its second cell when the first is `—`).
 * `$R` is the registry (holding `bb:1`), `$W` the work dir, `$HOSTP` this machine's os/arch; the store has
 * `busybox:latest`. See before() for the files under `$W`.
 */
const PROBES: Readonly<Record<string, readonly string[]>> = {
  // docker image commands
  '`docker build`, `docker buildx build`': ['tsbuild build -q -t probe:build $W/ctx', 'tsbuild -q -t probe:build2 $W/ctx'],
  '`docker images [REPO[:TAG]]`': ['tsbuild images busybox', "tsbuild images 'busy*:lat*'"],
  '`docker images -a, -q, --digests, --no-trunc`': ['tsbuild images -a -q --digests --no-trunc'],
  '`docker images --format`': ["tsbuild images --format '{{.Repository}}:{{.Tag}}'", "tsbuild images --format 'table {{.ID}}\\t{{.Size}}'", 'tsbuild images --format json'],
  '`docker images --filter dangling=, reference=, label=`': ['tsbuild images --filter dangling=false', 'tsbuild images --filter reference=busybox', 'tsbuild images --filter label=a=b'],
  '`docker images --filter before=, since=, until=`': ['tsbuild images --filter before=busybox', 'tsbuild images --filter since=busybox', 'tsbuild images --filter until=1h'],
  '`docker image ls`': ['tsbuild images'],
  '`docker image inspect IMAGE…`, `docker inspect IMAGE`': ['tsbuild inspect busybox', 'tsbuild inspect busybox busybox:latest', 'tsbuild inspect --oci busybox'],
  '`docker image inspect -f/--format`': ["tsbuild inspect -f '{{.Os}}' busybox", "tsbuild inspect --format '{{json .Config}}' busybox"],
  '`docker inspect --type`': ['tsbuild inspect --type image busybox'],
  '`docker history [--no-trunc] [-H] [-q] [--format]`': ['tsbuild history --no-trunc busybox', 'tsbuild history -H=false busybox', 'tsbuild history -q busybox', "tsbuild history --format '{{.CreatedBy}}' busybox"],
  '`docker save IMAGE… [-o FILE]`': ['tsbuild save -o $W/s1.tar busybox', 'tsbuild save busybox > $W/s2.tar', 'tsbuild save --format docker -o $W/s3.tar busybox'],
  '`docker load [-i FILE] [-q]`': ['tsbuild load -i $W/img.tar', 'tsbuild load -q < $W/img.tar', 'tsbuild load -i $W/da.tar'],
  '`docker import FILE\\|URL\\|- [REPO[:TAG]]`': ['tsbuild import $W/rootfs.tar probe:imp', 'tsbuild import - probe:imp2 < $W/rootfs.tar'],
  '`docker import -c/--change, -m/--message, --platform`': ['tsbuild import -c \'CMD ["sh"]\' -c \'SHELL ["/bin/sh", "-c"]\' -m imported --platform $HOSTP $W/rootfs.tar probe:imp3'],
  '`docker tag SRC DST`': ['tsbuild tag busybox probe:tag'],
  '`docker rmi [-f] IMAGE…`': ['tsbuild tag busybox probe:rmi && tsbuild rmi probe:rmi'],
  '`docker rmi --no-prune`': ['tsbuild rmi --no-prune probe:tag'],
  '`docker pull [--platform P] REF`': ['tsbuild pull $R/bb:1', 'tsbuild pull --platform $HOSTP $R/bb:1'],
  '`docker pull -a/--all-tags`, `-q`': ['tsbuild pull -a $R/bb', 'tsbuild pull --all-tags $R/bb', 'tsbuild pull -q $R/bb:1'],
  '`docker push REF`': ['tsbuild push busybox $R/bb:pushed', 'tsbuild tag busybox $R/bb:pushed2 && tsbuild push $R/bb:pushed2'],
  '`docker push -a/--all-tags`, `-q`': ['tsbuild push -a $R/bb', 'tsbuild push --all-tags $R/bb', 'tsbuild push -q $R/bb:pushed2'],
  '`docker login [-u USER] [-p PASSWORD \\| --password-stdin] [REGISTRY]`': ['echo pw | tsbuild login -u u --password-stdin $R', 'tsbuild login -u u -p pw $R'],
  '`docker logout [REGISTRY]`': ['tsbuild logout $R'],
  '`docker manifest inspect REF`': ['tsbuild manifest inspect $R/bb:1', 'tsbuild manifest inspect --raw $R/bb:1', "tsbuild manifest inspect --format '{{.digest}}' $R/bb:1"],
  '`docker manifest inspect --verbose`, `--insecure`': ['tsbuild manifest inspect --verbose $R/bb:1', 'tsbuild manifest inspect --insecure $R/bb:1'],
  '`docker manifest create LIST REF… [--amend]`': ['tsbuild manifest create $R/bb:list $R/bb:1 && tsbuild manifest create --amend $R/bb:list $R/bb:pushed && tsbuild manifest rm $R/bb:list'],
  '`docker manifest push [--purge] LIST`': ['tsbuild manifest create $R/bb:list2 $R/bb:1 && tsbuild manifest push --purge $R/bb:list2'],
  '`docker manifest rm LIST`': ['tsbuild manifest create $R/bb:list3 $R/bb:1 && tsbuild manifest rm $R/bb:list3'],
  '`docker manifest annotate`': ['tsbuild manifest annotate --arch arm64 $R/bb:list $R/bb:1'],
  '— (`crane delete`, `skopeo delete`)': [
    'tsbuild copy $R/bb:1 $R/del1:x && tsbuild manifest delete $R/del1:x',
    'tsbuild copy $R/bb:1 $R/del2:a && tsbuild copy $R/bb:1 $R/del2:b && ! tsbuild manifest delete $R/del2:a 2>/dev/null && tsbuild manifest delete --force $R/del2:a',
  ],
  '`docker image prune [-f]`': ['tsbuild prune -f', 'tsbuild prune'],
  '`docker image prune -a`': ['tsbuild prune -a -f'],
  '`docker image prune --filter until=…`': ['tsbuild prune -f --filter until=24h', 'tsbuild prune --keep-storage 1g'],
  '`docker builder prune [--keep-storage SIZE] [--filter until=D]`': ['tsbuild prune --cache --keep-storage 1g', 'tsbuild prune --cache --filter until=24h'],
  '`docker system df`': ['tsbuild du', 'tsbuild du --format json'],
  // docker run
  '`docker run IMAGE [COMMAND] [ARG…]`': ['tsbuild run busybox grep -v root /etc/passwd', 'tsbuild run busybox -- true', 'tsbuild run busybox sh -c "exit 3"; test $? = 3'],
  '`-i, --interactive`': ['echo hi | tsbuild run -i busybox cat | grep -qx hi', 'echo hi | tsbuild run --interactive busybox cat | grep -qx hi'],
  // The pseudo-terminal is being added (issue 19); until then this checks only that run --help lists -t.
  '`-t, --tty`': ['script -qec "tsbuild run -t busybox tty" /dev/null | grep -q /dev/pts/'],
  '`-e, --env K=V`, `-e K`': ['tsbuild run -e A=1 busybox sh -c \'test "$A" = 1\'', 'A=2 tsbuild run -e A busybox sh -c \'test "$A" = 2\'', 'tsbuild run --env A=3 busybox sh -c \'test "$A" = 3\''],
  '`--env-file FILE`': ['tsbuild run --env-file $W/env.list busybox sh -c \'test "$B" = 2\''],
  '`-v, --volume HOST:CTR[:ro]`': ['tsbuild run -v $W/vol:/v:ro busybox grep -qx v /v/f', 'tsbuild run --volume $W/vol:/v busybox grep -qx v /v/f', 'tsbuild run -v $W/made-by-v/d:/d busybox touch /d/f && test -f $W/made-by-v/d/f'],
  '`--mount type=bind\\|tmpfs,…`': ['tsbuild run --mount type=bind,src=$W/vol,dst=/v busybox true', 'tsbuild run --mount type=tmpfs,dst=/t busybox true'],
  '`-w, --workdir`': ['tsbuild run -w /tmp busybox sh -c \'test "$(pwd)" = /tmp\'', 'tsbuild run --workdir /etc busybox sh -c \'test "$(pwd)" = /etc\''],
  '`-u, --user USER[:GROUP]`': ['tsbuild run -u 1000:1000 busybox sh -c \'test "$(id -u):$(id -g)" = 1000:1000\'', 'tsbuild run --user app busybox sh -c \'test "$(id -un)" = app\''],
  '`--entrypoint CMD`': ['tsbuild run --entrypoint /bin/echo busybox x | grep -qx x', 'tsbuild run --entrypoint "" busybox true'],
  '`--network host\\|none`': ['tsbuild run --network none busybox true', 'tsbuild run --network host busybox true'],
  '`--network` (default)': ['tsbuild run --network default busybox true'],
  '`--rm`': ['tsbuild run --rm busybox true'],
  '`--rm=false`, `--keep`': ['tsbuild run --rm=false busybox true', 'tsbuild run --keep busybox true'],
  '`--name NAME`': ['tsbuild run --name probe-name busybox true'],
  '`--hostname`': ['tsbuild run --hostname probe-host busybox sh -c \'test "$(hostname)" = probe-host\''],
  '`--read-only`': ["tsbuild run --read-only busybox sh -c '! touch /x 2>/dev/null'"],
  '`--memory`, `--cpus`, `--pids-limit`': ['tsbuild run --memory 64m busybox true', 'tsbuild run --cpus 1 busybox true', 'tsbuild run --pids-limit 10 busybox true'],
  '`--cap-add`, `--cap-drop`': ['tsbuild run --cap-add NET_ADMIN busybox true', 'tsbuild run --cap-drop ALL busybox true'],
  '`--init`': ['tsbuild run --init busybox true'],
  '`--platform P`': ['tsbuild run --platform $HOSTP busybox true'],
  '`--runtime PATH`': ['tsbuild run --runtime runc busybox true'],
  '`-d, --detach`': ['tsbuild run -d busybox true', 'tsbuild run --detach busybox true'],
  '`-p, --publish`': ['tsbuild run -p 8080:80 busybox true', 'tsbuild run --publish 80 busybox true'],
  // skopeo
  '`skopeo copy SRC DST`': ['tsbuild copy docker://$R/bb:1 docker://$R/bb:copied'],
  '`docker://REF`': ['tsbuild copy docker://$R/bb:1 store:probe:docker'],
  '`oci:DIR[:REF]`': ['tsbuild copy docker://$R/bb:1 oci:$W/layout2:bb && tsbuild copy oci:$W/layout2:bb store:probe:oci && tsbuild copy oci:$W/layout2 store:probe:oci2'],
  '`oci-archive:FILE[:REF]`': ['tsbuild copy store:busybox oci-archive:$W/oa2.tar:bb && tsbuild copy oci-archive:$W/oa2.tar:bb store:probe:oa'],
  '`docker-archive:FILE[:REF]`': ['tsbuild copy store:busybox docker-archive:$W/da2.tar:bb:1 && tsbuild copy docker-archive:$W/da2.tar store:probe:da'],
  '`store:REF`, or a bare name': ['tsbuild copy store:busybox store:probe:store', 'tsbuild copy busybox $R/bb:bare'],
  '`containers-storage:REF`': ['tsbuild copy docker://$R/bb:1 containers-storage:localhost/bb:latest', 'tsbuild copy docker://$R/bb:1 containers-storage:bb'],
  '`dir:PATH`, `docker-daemon:REF`': ['tsbuild copy docker://$R/bb:1 dir:$W/dir', 'tsbuild copy docker://$R/bb:1 docker-daemon:bb:1', 'tsbuild copy docker://$R/bb:1 docker-daemon:bb'],
  '`--all/-a`': ['tsbuild copy --all docker://$R/bb:1 store:probe:all', 'tsbuild copy -a docker://$R/bb:1 store:probe:all', 'tsbuild copy --all-platforms docker://$R/bb:1 store:probe:all'],
  '`--multi-arch all\\|system\\|index-only`': ['tsbuild copy --multi-arch all docker://$R/bb:1 store:probe:all'],
  '`--override-os, --override-arch, --override-variant`': ['tsbuild copy --override-os linux --override-arch ${HOSTP#linux/} docker://$R/bb:1 store:probe:ov', 'tsbuild copy --platform $HOSTP docker://$R/bb:1 store:probe:ov'],
  '`--src-creds, --dest-creds USER[:PASSWORD]`': ['tsbuild copy --src-creds u:p docker://$R/bb:1 store:probe:cred', 'tsbuild copy --dest-creds u:p store:busybox docker://$R/bb:cred'],
  '`--src-tls-verify=false, --dest-tls-verify=false`': ['tsbuild copy --src-tls-verify=false --dest-tls-verify=false docker://$R/bb:1 docker://$R/bb:tls'],
  '`--src-cert-dir, --dest-cert-dir DIR`': ['tsbuild copy --src-cert-dir $W/certs --dest-cert-dir $W/certs docker://$R/bb:1 docker://$R/bb:cert'],
  '`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (either case)': ['HTTPS_PROXY=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 tsbuild copy docker://$R/bb:1 store:probe:proxy', 'NO_PROXY=\'*\' https_proxy=http://127.0.0.1:1 tsbuild tags $R/bb'],
  '`--authfile FILE`': ['tsbuild copy --authfile $W/auth.json docker://$R/bb:1 store:probe:auth'],
  '`--format, --dest-compress, --preserve-digests, --remove-signatures, --sign-by, --retry-times, -q`': [
    'tsbuild copy --format v2s2 docker://$R/bb:1 store:probe:x', 'tsbuild copy --dest-compress docker://$R/bb:1 store:probe:x',
    'tsbuild copy --preserve-digests docker://$R/bb:1 store:probe:x', 'tsbuild copy --remove-signatures docker://$R/bb:1 store:probe:x',
    'tsbuild copy --sign-by me@example.com docker://$R/bb:1 store:probe:x', 'tsbuild copy --retry-times 3 docker://$R/bb:1 store:probe:x',
    'tsbuild copy -q docker://$R/bb:1 store:probe:x',
  ],
  '`--sign-by-sigstore-private-key KEY` (copy to a registry)': ['TSBUILD_PASSWORD=p tsbuild generate-key-pair --output-key-prefix $W/probe-sign && TSBUILD_PASSWORD=p tsbuild push --sign-by $W/probe-sign.key busybox $R/signed:1', 'TSBUILD_PASSWORD=p tsbuild sign --key $W/probe-sign.key $R/signed:1'],
  '`policy.json` `sigstoreSigned` (`--policy`)': ['tsbuild verify --key $W/probe-sign.pub $R/signed:1', 'tsbuild pull --verify-key $W/probe-sign.pub $R/signed:1',
    `printf '{"default":[{"type":"sigstoreSigned","keyPath":"%s"}]}' $W/probe-sign.pub > $W/policy.json && tsbuild pull --policy $W/policy.json $R/signed:1`],
  '`skopeo inspect --config docker://REF`': ['tsbuild config docker://$R/bb:1 | grep -q diff_ids'],
  '`skopeo inspect --raw docker://REF`': ['tsbuild manifest inspect --raw $R/bb:1 | grep -q schemaVersion'],
  '`skopeo inspect docker://REF`': ['tsbuild digest docker://$R/bb:1 && tsbuild config docker://$R/bb:1'],
  '`skopeo delete docker://REF`': ['tsbuild copy $R/bb:1 $R/del3:x && tsbuild manifest delete $R/del3:x'],
  '`skopeo list-tags docker://REPO`': ['tsbuild tags $R/bb | grep -qx 1'],
  '`skopeo login`, `skopeo logout`': ['echo pw | tsbuild login -u u --password-stdin $R && tsbuild logout $R'],
  '`--tls-verify=false` (inspect, delete, list-tags, login)': ['tsbuild tags --insecure-registry $R $R/bb', 'tsbuild manifest inspect --insecure-registry $R $R/bb:1'],
  '`--cert-dir DIR` (inspect, delete, list-tags, login)': ['tsbuild tags --ca-file $W/certs/ca.crt $R/bb'],
  '`skopeo sync`': ['tsbuild sync docker://$R/bb oci:$W/sync'],
  // crane
  '`crane digest REF`': ['tsbuild digest $R/bb:1', 'tsbuild digest busybox', 'tsbuild digest oci-archive:$W/oa.tar:bb'],
  '`crane config REF`': ['tsbuild config $R/bb:1'],
  '`crane manifest REF`': ['tsbuild manifest inspect --raw $R/bb:1'],
  '`crane blob REPO@DIGEST`': ["tsbuild blob $R/bb@$(tsbuild manifest inspect --raw --format '{{(index .layers 0).digest}}' $R/bb:1) | tar tz > /dev/null"],
  '`crane catalog REGISTRY`': ['tsbuild catalog $R | grep -qx bb', 'tsbuild catalog --full-ref $R'],
  '`crane ls REPO`': ['tsbuild tags $R/bb'],
  '`crane export REF [FILE\\|-]`': ['tsbuild export $R/bb:1 - | tar t > /dev/null', 'tsbuild export busybox $W/exported.tar'],
  '`crane flatten REF [-t NEW]`': ['tsbuild flatten $R/bb:1 -t $R/bb:flat'],
  '`crane append -f LAYER -b BASE [-t NEW]`': ['tsbuild append -f $W/layer.tar $R/bb:1 -t $R/bb:appended', 'tsbuild append -f $W/layer.tar -b busybox -t probe:appended'],
  '`crane mutate REF --entrypoint --cmd --env --label --workdir --user [-t NEW]`': ['tsbuild mutate $R/bb:1 --entrypoint /bin/sh,-c --cmd true --env A=1 --label l=v --workdir /tmp --user 1000 -t $R/bb:mutated'],
  '`crane mutate --annotation, --append, -o`': ['tsbuild mutate --annotation a=b $R/bb:1 -t $R/bb:m2', 'tsbuild mutate --append $W/layer.tar $R/bb:1 -t $R/bb:m2', 'tsbuild mutate -o $W/m.tar $R/bb:1 -t $R/bb:m2'],
  '`crane copy SRC DST`': ['tsbuild copy $R/bb:1 $R/bb:crane'],
  '`crane tag REF TAG`': ['tsbuild copy $R/bb:1 $R/bb:v2'],
  '`crane delete REF`': ['tsbuild copy $R/bb:1 $R/del4:x && tsbuild manifest delete $R/del4:x'],
  '`crane pull REF FILE`': ['tsbuild copy $R/bb:1 oci-archive:$W/pulled.tar', 'tsbuild copy $R/bb:1 docker-archive:$W/pulled-d.tar'],
  '`crane push FILE REF`': ['tsbuild copy oci-archive:$W/oa.tar:bb docker://$R/bb:from-file'],
  '`crane auth login REGISTRY -u USER -p PASS`': ['echo pw | tsbuild login $R -u u --password-stdin'],
  '`crane rebase`, `crane validate`, `crane index`, `crane edit`': ['tsbuild rebase $R/bb:1', 'tsbuild validate $R/bb:1', 'tsbuild index append $R/bb:1', 'tsbuild edit manifest $R/bb:1'],
};

interface Row { readonly key: string; readonly status: string; readonly line: string }

/** Returns the rows of the tables in the README section `heading` (up to the next `## ` heading). */
function tableRows(readme: string, heading: string): Row[] {
  const start = readme.indexOf(heading);
  assert.ok(start >= 0, `README has ${heading}`);
  const end = readme.indexOf('\n## ', start);
  const lines = readme.slice(start, end < 0 ? undefined : end).split('\n');
  const rows: Row[] = [];
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('| ') || lines[i + 1]?.startsWith('| ---') || line.startsWith('| ---')) continue;
    const cells = line.slice(2, -2).split(/ (?<!\\)\| /);
    assert.equal(cells.length, 3, `three cells: ${line}`);
    rows.push({ key: cells[0] === '—' ? cells[1]! : cells[0]!, status: cells[2]!, line });
  }
  return rows;
}

/**
 * Runs `script` with bash without blocking this process's event loop: the loopback registry's log pipe is read
 * here, and a blocked loop would fill it and stall the registry.
 */
function bash(args: readonly string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
    child.once('error', reject);
    child.once('close', (status) => {
      if (timer) clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let bb: BusyboxRootfs & { tar: string };
let reg: RegistryHandle;
let work: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  bb = await busyboxTar();
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-users-table-'));
  const bin = join(work, '.bin');
  await mkdir(bin);
  await symlink(TSBUILD_LAUNCHER, join(bin, 'tsbuild'));
  env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, TSBUILD_ROOT: join(work, '.store'), DOCKER_CONFIG: join(work, '.docker'), R: reg.host, W: work };
  delete env.TSBUILD_CONFIG;
  await mkdir(join(work, '.docker'));
  await mkdir(join(work, 'ctx'));
  await writeFile(join(work, 'ctx', 'Dockerfile'), 'FROM busybox:latest\nENV PROBE=1\n');
  await mkdir(join(work, 'vol'));
  await writeFile(join(work, 'vol', 'f'), 'v\n');
  await writeFile(join(work, 'env.list'), '# from a file\nB=2\n');
  await writeFile(join(work, 'auth.json'), '{"auths": {}}\n');
  await copyFile(bb.tar, join(work, 'rootfs.tar'));
  await mkdir(join(work, 'certs'));
  const pem = (await readdir('/etc/ssl/certs')).find((f) => f.endsWith('.pem'));
  assert.ok(pem, 'a CA certificate in /etc/ssl/certs');
  await copyFile(join('/etc/ssl/certs', pem), join(work, 'certs', 'ca.crt'));
  const setup = [
    'tsbuild import $W/rootfs.tar busybox:latest',
    'tsbuild push busybox $R/bb:1',
    'tsbuild copy docker://$R/bb:1 oci-archive:$W/oa.tar:bb',
    'tsbuild save -o $W/img.tar busybox',
    'tsbuild save --format docker -o $W/da.tar busybox',
    'echo layer > $W/extra && tar -C $W -cf $W/layer.tar extra',
  ].join(' && ');
  const r = await bash(['-e', '-c', setup], { cwd: work, env });
  assert.equal(r.status, 0, r.stderr);
  const host = runCli(['inspect', '-f', '{{.Os}}/{{.Architecture}}', 'busybox'], { env });
  assert.equal(host.code, 0, host.stderr);
  env.HOSTP = host.stdout.trim();
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  await bb?.cleanup();
});

test('every row of the docker/skopeo/crane tables has probes, and the CLI does what its status says', { timeout: 900_000 }, async () => {
  const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
  const rows = tableRows(readme, '### Image commands, `docker run`, skopeo and crane');
  assert.ok(rows.length >= 90, `the tables have their rows (found ${rows.length})`);
  const keys = new Set(rows.map((r) => r.key));
  assert.deepEqual(rows.filter((r) => !PROBES[r.key]).map((r) => r.key), [], 'rows without probes');
  assert.deepEqual(Object.keys(PROBES).filter((k) => !keys.has(k)), [], 'probes for rows the README no longer has');

  const failures: string[] = [];
  for (const row of rows) {
    const status = /^(supported|differs|refused|missing)\b/.exec(row.status)?.[1];
    if (!status) {
      failures.push(`${row.key}: status ${JSON.stringify(row.status.slice(0, 40))} is not supported, differs, refused or missing`);
      continue;
    }
    const mustRun = status === 'supported' || status === 'differs';
    for (const probe of PROBES[row.key]!) {
      const r = await bash(['-c', probe], { cwd: work, env, timeoutMs: 120_000 });
      const errorLines = r.stderr.split('\n').filter((l) => l.length > 0);
      if (mustRun && r.status !== 0) failures.push(`${row.key} (${status}): \`${probe}\` exited ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
      if (!mustRun && r.status === 0) failures.push(`${row.key} (${status}): \`${probe}\` succeeded`);
      if (!mustRun && (errorLines.length !== 1 || !errorLines[0]!.startsWith('error: '))) failures.push(`${row.key} (${status}): \`${probe}\` did not print one error line: ${JSON.stringify(r.stderr.slice(0, 300))}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await mountPoints(join(work, '.store')), [], 'nothing left mounted');
});
