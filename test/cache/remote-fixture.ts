/** Test kit for the remote cache: real layers packed into a real LayerStore, and records with real step keys. */
import { mkdtemp, mkdir, readdir, readFile, readlink, lstat, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stepKey, type CacheRecord, type StepInputs } from '../../cache/index.js';
import { LayerStore, digestOf, packLayer, type Digest } from '../../layer-store/index.js';

export interface Fixture {
  readonly store: LayerStore;
  /** Records of a 4-step chain: three RUN steps with layers and one ENV step without. */
  readonly records: readonly CacheRecord[];
  readonly cleanup: () => Promise<void>;
}

/** Returns a temp dir and its cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Returns a record for `inputs` with its real key. */
export function recordFor(inputs: StepInputs, layer?: CacheRecord['result']['layer']): CacheRecord {
  return {
    key: stepKey(inputs),
    inputs,
    result: { emptyLayer: layer === undefined, ...(layer ? { layer } : {}), history: { created_by: inputs.instruction } },
    createdAt: 1_700_000_000_000,
    lastUsedAt: 1_700_000_000_000,
  };
}

/** Opens a store in a temp dir and fills it with the layers of a small chain of steps. */
export async function makeFixture(tag = 'a'): Promise<Fixture> {
  const root = await tempDir('tsbuild-remote-cache-store-');
  const work = await tempDir('tsbuild-remote-cache-work-');
  const store = await LayerStore.open(root.dir);
  const records: CacheRecord[] = [];
  let parent: Digest | string = digestOf(`base image ${tag}`);
  for (let i = 0; i < 4; i++) {
    const instruction = i === 2 ? `ENV STEP=${i}` : `RUN echo ${tag}${i} > /f${i}`;
    const inputs: StepInputs = {
      v: 1, parent, instruction, platform: 'linux/amd64', env: [['A', tag]], mounts: [], stepId: `stage0/${i}`,
      parentKind: i === 0 ? 'base' : 'step',
      ...(i === 1 ? { sources: { digest: digestOf(`src ${tag}`), files: { 'x.txt': 'file|0644|0:0|3|abc' } } } : {}),
    };
    let layer: CacheRecord['result']['layer'];
    if (i !== 2) {
      const d = join(work.dir, `l${i}`);
      await mkdir(join(d, 'etc'), { recursive: true });
      await writeFile(join(d, 'etc', `f${i}`), `${tag} layer ${i}\n`.repeat(100 + i));
      const p = await packLayer(d, { sink: (s) => store.putBlob(s, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }), xattrs: false });
      layer = { digest: p.digest, diffId: p.diffId, size: p.size, mediaType: p.mediaType };
    }
    const r = recordFor(inputs, layer);
    records.push(r);
    parent = r.key;
  }
  await work.cleanup();
  return { store, records, cleanup: root.cleanup };
}

/** Returns a description of every entry under `dir`: path → type, mode, owner, content or link target. */
export async function treeListing(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = await lstat(p);
      const head = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out[r] = `link ${head} -> ${await readlink(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${head}`;
        await walk(r);
      } else out[r] = `file ${head} ${digestOf(await readFile(p))}`;
    }
  };
  await walk('');
  return out;
}
