/**
 * The image commands (cli/commands/store.ts) run end to end in a child process (this file re-run with
 * TSBUILD_CLI_CHILD set builds a yargs parser with just the global --root option and storeCommands).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const run = promisify(execFile);

if (process.env['TSBUILD_CLI_CHILD']) {
  const yargs = (await import('yargs')).default;
  const { storeCommands } = await import('../../cli/commands/store-list.js');
  const { formatError, TsbuildError } = await import('../../layer-store/index.js');
  let y = yargs(process.argv.slice(2)).option('root', { type: 'string', demandOption: true, global: true })
    .option('debug', { type: 'boolean', default: false, global: true }).strict()
    .fail((msg, err) => { throw err ?? new TsbuildError('USAGE', msg); });
  for (const c of storeCommands) y = y.command(c as never);
  try {
    await y.parseAsync();
  } catch (e) {
    process.stderr.write(`error: ${formatError(e)}\n`);
    process.exitCode = TsbuildError.is(e) && e.code === 'USAGE' ? 2 : 1;
  }
} else {
  test('images, inspect, history, tag, rmi, prune, save, load and import work from the command line', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'tsbuild-cli-'));
    const rf = await makeBusyboxRootfs({ tar: true });
    t.after(async () => {
      await rf.cleanup();
      await rm(base, { recursive: true, force: true });
    });
    const root = join(base, 'root');
    const self = fileURLToPath(import.meta.url);
    const cli = (...args: string[]) => run(process.execPath, [...process.execArgv, self, '--root', root, ...args], { env: { ...process.env, TSBUILD_CLI_CHILD: '1' } });

    const { stdout: id } = await cli('import', rf.tar!, 'busybox:1');
    assert.match(id.trim(), /^sha256:[a-f0-9]{64}$/);
    await cli('tag', 'busybox:1', 'me/box:dev');
    const { stdout: table } = await cli('images', '--digests');
    assert.match(table, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE/);
    assert.match(table, /\nbusybox\s+1\s+sha256:/);
    assert.match(table, new RegExp(`me/box\\s+dev\\s+sha256:[a-f0-9]{64}\\s+${id.trim().slice(7, 19)}`));
    // docker's `--format json`: one object per line, per name; a reference filter keeps the names it matches.
    const lines = (await cli('images', '--format', 'json', '--filter', 'reference=me/*')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { Repository: string; Tag: string; ID: string });
    assert.deepEqual(lines.map((j) => `${j.Repository}:${j.Tag}`), ['me/box:dev']);
    assert.equal(lines[0]!.ID, id.trim().slice(7, 19));
    assert.equal((await cli('images', '--format', 'json', '--filter', 'dangling=true')).stdout, '');
    assert.equal((await cli('images', '--format', 'json', '--filter', 'label=nope')).stdout, '');

    const [insp] = JSON.parse((await cli('inspect', 'busybox:1')).stdout);
    assert.equal(insp.Id, id.trim());
    assert.equal(insp.RootFS.Layers.length, 1);
    const oci = JSON.parse((await cli('inspect', '--oci', 'busybox:1')).stdout);
    assert.equal(oci.Manifest.layers.length, 1);
    const { stdout: hist } = await cli('history', 'busybox:1');
    assert.match(hist, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n/);
    assert.match(hist, /Imported from -/);

    const file = join(base, 'b.tar');
    await cli('save', 'busybox:1', '-o', file, '--format', 'docker');
    assert.ok(existsSync(file));
    await assert.rejects(cli('images', '--filter', 'bogus=1'), (e: { code?: number; stderr?: string }) => e.code === 2 && /unknown filter "bogus"/.test(e.stderr ?? ''));
    await assert.rejects(cli('inspect', 'nothere'), (e: { code?: number; stderr?: string }) => e.code === 1 && /^error: image not found: nothere/.test(e.stderr ?? ''));

    const { stdout: rmi } = await cli('rmi', 'busybox:1', 'me/box:dev');
    assert.match(rmi, /Untagged: docker.io\/library\/busybox:1/);
    const { stdout: pr } = await cli('prune');
    assert.match(pr, /Deleted 3 blobs/);
    const { stdout: loaded } = await cli('load', '-i', file);
    assert.match(loaded, /Loaded image: docker.io\/library\/busybox:1/);
    assert.equal(JSON.parse((await cli('inspect', 'busybox:1')).stdout)[0].Id, id.trim());
  });
}
