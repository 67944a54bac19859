/** Building images for the SBOM tests in a temporary store, and reading back their layer snapshot dirs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { build, runImage } from '../../builder/index.js';
import { LayerStore, importRootfs } from '../../layer-store/index.js';
import { findRuntime, type Runtime } from '../../runtime-exec/index.js';

export interface ImageEnv {
  readonly root: string;
  readonly store: LayerStore;
  readonly runtime: Runtime;
  /** Builds `dockerfile` with `context` as `tag` (no cache). */
  build(context: string, dockerfile: string, tag: string): Promise<void>;
  /** Returns the snapshot dirs of `image`'s layers, lowest first (overlay whiteouts, as LayerStore unpacks them). */
  layers(image: string): Promise<string[]>;
  /** Runs `cmd` in `image`; returns its stdout (a non-zero exit is an error). */
  run(image: string, cmd: readonly string[]): Promise<string>;
  cleanup(): Promise<void>;
}

/** Returns a fresh store under os.tmpdir() with the root filesystem tar `baseTar` imported as `baseName`. */
export async function makeImageEnv(baseTar: string, baseName: string): Promise<ImageEnv> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-sbom-'));
  const store = await LayerStore.open(root);
  await importRootfs(store, baseTar, baseName, { created: '1970-01-01T00:00:00.000Z' });
  const runtime = await findRuntime({ runtime: 'runc' });
  return {
    root, store, runtime,
    async build(context, dockerfile, tag) {
      await build({ context, dockerfileContent: dockerfile, tags: [tag], store, runtime, network: 'none' });
    },
    async layers(image) {
      const img = await store.image(image);
      return Promise.all(img.manifest.layers.map((d, i) => store.snapshot(img.config.rootfs.diff_ids[i]!, { layer: d })));
    },
    async run(image, cmd) {
      const chunks: Buffer[] = [];
      const err: Buffer[] = [];
      const sink = (into: Buffer[]): Writable => new Writable({ write(c: Buffer, _e, cb) { into.push(c); cb(); } });
      const code = await runImage({ store, runtime, image, cmd, network: 'none', stdout: sink(chunks), stderr: sink(err) });
      if (code !== 0) throw new Error(`${cmd.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`);
      return Buffer.concat(chunks).toString('utf8');
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
