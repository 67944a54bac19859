// RUN --mount=type=ssh with a real ssh-agent and a real sshd on loopback: `--ssh default` ($SSH_AUTH_SOCK) and
// `--ssh ID=SOCKET` forward the agent (ssh-add -l in the step lists the key; SSH_AUTH_SOCK points at the mount);
// `--ssh ID=KEYFILE` runs a private agent for the build and stops it after; target/mode/uid/gid shape the socket;
// a step clones over ssh with the forwarded key; a git context and ADD of an ssh:// repository are fetched with
// the agent; a required ssh mount without --ssh fails naming its id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, TsbuildError } from '../../layer-store/index.js';
import { runBuildPipeline } from '../../builder/index.js';
import { busyboxTar, layerFile, makeBuildEnv, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { makeRepo, type TestRepo } from '../helpers/git-server.js';
import { agentKeys, importSshToolsImage, startAgent, startSshd, type Agent, type Sshd } from '../helpers/sshd.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let sshd: Sshd;
let agent: Agent;
let repo: TestRepo;
let ctx: string;
const SSH = 'ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes';

before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  await importSshToolsImage(env.store, bb.dir, 'sshtools:latest');
  sshd = await startSshd();
  agent = await startAgent([sshd.userKey]);
  repo = await makeRepo('private');
  await repo.commit({ 'secret.txt': 'private content\n', 'Dockerfile': 'FROM busybox\nCOPY secret.txt /from-context.txt\n' });
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-sshctx-'));
});
after(async () => {
  await agent?.close();
  await sshd?.close();
  await env?.cleanup();
  await repo?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

const sshUrl = (): string => `ssh://root@127.0.0.1:${sshd.port}${repo.bare}`;

async function buildWith(dockerfile: string, tag: string, ssh: { id: string; paths: string[] }[]): Promise<Awaited<ReturnType<BuildEnv['build']>>> {
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  return env.build({ context: ctx, tags: [tag], ssh, noCache: true });
}

/** Our private agents' sockets (ssh-agent -D -a /tmp/tsbuild-ssh-*) still running. */
async function privateAgents(): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('ssh-agent\0') && cmd.includes('/tsbuild-ssh-')) out.push(cmd.replace(/\0/g, ' '));
  }
  return out;
}

test('--ssh default forwards $SSH_AUTH_SOCK: ssh-add -l in the step lists the agent\'s key', async () => {
  const keys = await agentKeys(agent.socket);
  const saved = process.env.SSH_AUTH_SOCK;
  process.env.SSH_AUTH_SOCK = agent.socket;
  try {
    await buildWith('FROM sshtools\nRUN --mount=type=ssh sh -c \'echo "$SSH_AUTH_SOCK" > /sock.txt; ssh-add -l > /keys.txt\'\n', 'ssh:default', [{ id: 'default', paths: [] }]);
  } finally {
    if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = saved;
  }
  assert.equal(await layerFile(env, 'ssh:default', 'keys.txt'), keys);
  assert.match(keys, /tsbuild-test-user/);
  assert.equal(await layerFile(env, 'ssh:default', 'sock.txt'), '/run/buildkit/ssh_agent.0\n');
  assert.deepEqual(await scratchLeft(env.root), []);
});

test('--ssh ID=KEYFILE runs a private agent for the build (stopped after); target, mode, uid and gid shape the socket', async () => {
  const before = await privateAgents();
  await buildWith(
    'FROM sshtools\nRUN --mount=type=ssh,id=deploy,target=/tmp/agent.sock,mode=0660,uid=1000,gid=1001 sh -c \'stat -c "%u %g %a %F" /tmp/agent.sock > /st.txt; SSH_AUTH_SOCK=/tmp/agent.sock ssh-add -l > /keys.txt\'\n',
    'ssh:keyfile', [{ id: 'deploy', paths: [sshd.userKey] }]);
  assert.equal(await layerFile(env, 'ssh:keyfile', 'st.txt'), '1000 1001 660 socket\n');
  assert.match(await layerFile(env, 'ssh:keyfile', 'keys.txt'), /tsbuild-test-user/);
  assert.deepEqual(await privateAgents(), before, 'the private agent is gone after the build');
});

test('a step clones a repository over ssh with the forwarded key (--ssh ID=SOCKET)', async () => {
  await buildWith(
    `FROM sshtools\nRUN --mount=type=ssh,id=git GIT_SSH_COMMAND="${SSH}" git clone -q ${sshUrl()} /clone\n`,
    'ssh:clone', [{ id: 'git', paths: [agent.socket] }]);
  assert.equal(await layerFile(env, 'ssh:clone', 'clone/secret.txt'), 'private content\n');
});

test('a git context and ADD over ssh:// are fetched with the --ssh default agent', async () => {
  const r = await runBuildPipeline({ context: `${sshUrl()}#main`, tags: ['ssh:ctx'], store: env.store, cache: env.cache, runtime: env.runtime, ssh: [{ id: 'default', paths: [agent.socket] }] });
  assert.ok(r.configDigest);
  assert.equal(await layerFile(env, 'ssh:ctx', 'from-context.txt'), 'private content\n');
  await buildWith(`FROM busybox\nADD ${sshUrl()}#main /repo/\n`, 'ssh:add', [{ id: 'default', paths: [agent.socket] }]);
  assert.equal(await layerFile(env, 'ssh:add', 'repo/secret.txt'), 'private content\n');
  // Without an agent the server refuses: one line naming the remote.
  const e = await buildWith(`FROM busybox\nADD ${sshUrl()}#main /repo/\n`, 'ssh:noagent', []).then(() => undefined, (x: unknown) => x);
  assert.ok(TsbuildError.is(e));
  assert.match(formatError(e), /ADD ssh:\/\/root@127\.0\.0\.1:\d+\/.*private\.git#main: cannot list the refs of .*(Permission denied|publickey)/);
});

test('a required ssh mount without --ssh fails naming its id; an optional one runs without a socket', async () => {
  const e = await buildWith('FROM busybox\nRUN --mount=type=ssh,id=deploy,required=true true\n', 'ssh:req', []).then(() => undefined, (x: unknown) => x);
  assert.ok(TsbuildError.is(e));
  const line = formatError(e);
  assert.match(line, /id=deploy: no SSH agent given for id deploy .*--ssh deploy=/);
  assert.match(line, /Dockerfile:2/);
  await buildWith('FROM busybox\nRUN --mount=type=ssh sh -c \'test -z "$SSH_AUTH_SOCK" && echo none > /o.txt\'\n', 'ssh:opt', []);
  assert.equal(await layerFile(env, 'ssh:opt', 'o.txt'), 'none\n');
  // --ssh default without SSH_AUTH_SOCK, and a key file that does not exist: usage errors naming the flag.
  const saved = process.env.SSH_AUTH_SOCK;
  delete process.env.SSH_AUTH_SOCK;
  try {
    const e2 = await buildWith('FROM busybox\n', 'ssh:x', [{ id: 'default', paths: [] }]).then(() => undefined, (x: unknown) => x);
    assert.match(formatError(e2), /--ssh default: SSH_AUTH_SOCK is not set/);
  } finally {
    if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
  }
  const e3 = await buildWith('FROM busybox\n', 'ssh:y', [{ id: 'k', paths: ['/nonexistent/key'] }]).then(() => undefined, (x: unknown) => x);
  assert.match(formatError(e3), /--ssh k=\/nonexistent\/key: \/nonexistent\/key: no such file/);
});
