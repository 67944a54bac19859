/**
 * Wiring of the default components from the global options: the store under --root, the cache beside it,
 * the OCI runtime. Commands get what they need from here; nothing is a singleton.
 */
import { LayerStore, rootLayout, type Logger } from '../layer-store/index.js';
import { CacheStore } from '../cache/index.js';
import { findRuntime, type Runtime } from '../runtime-exec/index.js';

/** Opens (creating) the store under `root`. */
export function openStore(root: string, logger: Logger): Promise<LayerStore> {
  return LayerStore.open(root, { logger });
}

/** Opens the step cache under `<root>/cache/steps` (StoreLayout.cacheStepsDir). */
export function openCache(root: string, logger: Logger): Promise<CacheStore> {
  return CacheStore.open(rootLayout(root).cacheStepsDir, { logger });
}

/**
 * Finds runc (or `--runtime PATH`), else the unshare fallback, as runtime-exec decides. The lookup
 * (a search of PATH; runc is not probed) happens on the first RUN, not before: a build whose steps all hit the
 * cache never pays for it. The name is that of the runtime found, `runc` until then. `root`: the store root,
 * recorded on each container as its owner.
 */
export function openRuntime(runtime: string | undefined, logger: Logger, root?: string): Promise<Runtime> {
  let found: Promise<Runtime> | undefined;
  let name: Runtime['name'] = 'runc';
  const lazy: Runtime = {
    get name() { return name; },
    run: async (spec, io, signal) => {
      // The store root owns the containers: `tsbuild fsck` of that root finds one a killed build left.
      found ??= findRuntime({ ...(runtime ? { runtime } : {}), ...(root !== undefined ? { owner: rootLayout(root).root } : {}), logger });
      const r = await found;
      name = r.name;
      return r.run(spec, io, signal);
    },
  };
  return Promise.resolve(lazy);
}
