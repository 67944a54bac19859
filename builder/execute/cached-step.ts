/**
 * The cached-step protocol, for every layer-producing step (RUN, COPY, ADD, WORKDIR):
 *
 *   key    stepKey(inputs); with a cache, the key is leased (prune --cache keeps its record).
 *   hit?   a local record whose layer blob is still stored (its layer leased first), else a --cache-from record
 *          whose layer is fetched now (a failed fetch is a warning and a miss). → step.cached; the layer is reused.
 *   lock   on a local miss: `<root>/cache/locks/<key hex>.lock` (O_EXCL, a dead holder's lock is broken), so one
 *          builder per key runs the step; whoever gets the lock second looks again and takes the first one's hit.
 *   miss   → step.miss with the reason (explainMiss against the nearest previous record of this step id, which
 *          is also kept in ctx.previous for segment and file reuse); `produce` runs the step.
 *   record the record is written once the layer's blob is compressed (behind the next step); the lock is held
 *          until then. With --no-cache the step always runs, and its record is written all the same (BuildKit's
 *          --no-cache ignores the cache but feeds it); without a cache it is only remembered for the build result.
 *
 * The stage state (key, parentKind, time) is advanced on a hit or after `produce`; the step returns as soon as
 * its layer is usable. Left on failure: a failing `produce` leaves no record and releases the lock; a record
 * whose write fails fails the build at settleBackground (nothing is tagged); scratch dirs are the build's.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError, withLock, type Digest, type MissReason } from '../../layer-store/index.js';
import { explainMiss, stepKey, type CacheRecord, type CacheStore, type StepInputs } from '../../cache/index.js';
import { baseInputs, copyKeyChange, keyEnv, stepIdOf } from '../plan/index.js';
import { inBackground, storedLayer, type KnownLayer, type StageLayer, type StepCall } from './context.js';

/** What a step produced: its layer, or none when it changed nothing. */
export interface StepResult {
  readonly layer?: StageLayer;
}

/**
 * The key material every step shares (plan's baseInputs) at the call's position. `withEnv`: RUN sees the
 * stage's args and ENV as its environment, so they enter its key; COPY/ADD/WORKDIR only see their (expanded) text.
 */
export function stepInputs(call: StepCall, instruction: string, withEnv = false): StepInputs {
  const { ctx, state: st, stage: rs } = call;
  return baseInputs({
    parent: st.key, parentKind: st.parentKind, parentName: st.parentName, platform: st.platform,
    stepId: stepIdOf(ctx.contextDir, ctx.ast.file, rs.stage.name ?? rs.index, call.id), epoch: ctx.o.sourceDateEpoch,
  }, instruction, withEnv ? keyEnv(call.scope.runEnv({ includeProxy: false })) : []);
}

/** How long a step waits for another builder of the same key (a live holder: its step is still running). */
const STEP_LOCK_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface CachedStepOptions {
  /**
   * On a miss, before the miss is explained and the step runs: `inputs` completed with the detail that is not part
   * of the key (a COPY's per-file fingerprints, when its sources digest came from the stat cache's remembered
   * selections). Ignored when it would change the key.
   */
  readonly detail?: () => Promise<StepInputs>;
}

/**
 * Runs a layer-producing step through the cache (the protocol above): on a hit the recorded layer is reused; on
 * a miss `produce` runs and its result is recorded. Emits step.cached / step.miss and reports the step.
 */
export async function cachedStep(call: StepCall, given: StepInputs, produce: () => Promise<StepResult>, o: CachedStepOptions = {}): Promise<StepResult> {
  const { ctx, state: st, id, name, noCache } = call;
  let inputs = given;
  const key = stepKey(inputs);
  const detail = async (): Promise<void> => {
    if (!o.detail) return;
    const d = await o.detail();
    if (stepKey(d) === key) inputs = d;
  };
  const cache = ctx.o.cache;
  const remember = (rec: CacheRecord): void => {
    const list = ctx.records.get(call.stage.index) ?? [];
    list.push(rec);
    ctx.records.set(call.stage.index, list);
  };
  const hit = (rec: CacheRecord): StepResult => {
    ctx.events({ type: 'step.cached', id });
    ctx.steps.push({ id, name, cached: true });
    st.key = key;
    st.parentKind = 'step';
    if (ctx.o.sourceDateEpoch === undefined) st.time = new Date(rec.createdAt).toISOString();
    remember(rec);
    const layer = rec.result.layer;
    return layer ? { layer: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size, diffId: layer.diffId } } : {};
  };
  // A local hit is usable only when its layer blob is still stored; the layer is leased first, so a concurrent
  // prune either ran before (the check then fails: a miss) or keeps it until this build is done.
  const localHit = async (c: CacheStore): Promise<CacheRecord | undefined> => {
    const rec = await c.get(key);
    if (!rec) return undefined;
    const layer = rec.result.layer;
    if (layer) {
      await ctx.lease.addLayer(layer);
      if (!(await ctx.o.store.hasBlob(layer.digest))) return undefined;
    }
    await c.touch(key).catch(() => undefined);
    return rec;
  };
  let reason: MissReason;
  if (!cache) {
    await detail();
    reason = { kind: 'no-cache', detail: 'cache disabled' };
  } else if (noCache) {
    await detail();
    // --no-cache (or --no-cache-filter) ignores the records but still writes this step's, as BuildKit does: the
    // next ordinary build hits. The key is leased for that write, and the previous build of the step is still
    // found, for its layer's segments and files.
    await ctx.lease.add({ cacheKeys: [key] });
    const before = inputs.stepId ? await cache.nearest(inputs.stepId) : undefined;
    if (before) ctx.previous.set(id, before);
    reason = { kind: 'no-cache', detail: '--no-cache' };
  } else {
    // The key is leased so `prune --cache` keeps the record this build reads or is about to write. The record is
    // read once before, only to name its layer: key and layer are leased in one write (one lock cycle, not two,
    // for a hit), and localHit reads the record again and checks its blob after it (a prune in between: a miss).
    const seen = (await cache.get(key))?.result.layer;
    await ctx.lease.add({ cacheKeys: [key], ...(seen ? { blobs: [seen.digest], snapshots: [seen.diffId] } : {}) });
    const rec = await localHit(cache);
    if (rec) return hit(rec);
    for (const remote of ctx.o.remoteCaches ?? []) {
      const r = remote.get(key);
      if (!r) continue;
      try {
        if (r.result.layer) await ctx.lease.addLayer(r.result.layer);
        await remote.fetchLayer(r, ctx.o.store, { signal: ctx.signal });
      } catch (e) {
        if (TsbuildError.is(e) && e.code === 'ABORTED') throw e;
        ctx.events({ type: 'warning', message: `cache from ${remote.ref}: ${e instanceof Error ? e.message : String(e)}; running the step` });
        continue;
      }
      const local: CacheRecord = { ...r, lastUsedAt: Date.now() };
      await cache.put(local);
      ctx.events({ type: 'info', message: `${name}: cache hit from ${remote.ref}` });
      return hit(local);
    }
    await detail();
    const before = inputs.stepId ? await cache.nearest(inputs.stepId) : undefined;
    if (before) ctx.previous.set(id, before);
    reason = before ? explainMiss(inputs, before.inputs) : { kind: 'new-step', detail: 'no previous build of this step' };
    // A COPY/ADD key holds more than its text (the --from stage's layers, heredoc digests): name which part changed.
    if (reason.kind === 'instruction' && before) reason = copyKeyChange(before.inputs.instruction, inputs.instruction) ?? reason;
  }
  // Runs the step; `recorded` settles once its cache record is written, which waits for the layer's blob when
  // that is still being compressed (the next step does not wait for it).
  const miss = async (): Promise<{ result: StepResult; recorded: Promise<void> }> => {
    ctx.events({ type: 'step.miss', id, reason });
    ctx.steps.push({ id, name, cached: false, reason });
    const r = await produce();
    const createdAt = Date.now();
    const record = async (): Promise<void> => {
      const layer: KnownLayer | undefined = r.layer ? await storedLayer(r.layer) : undefined;
      const rec: CacheRecord = {
        key, inputs, createdAt, lastUsedAt: createdAt,
        result: layer ? { emptyLayer: false, layer: { digest: layer.digest, diffId: layer.diffId, size: layer.size, mediaType: layer.mediaType } } : { emptyLayer: true },
      };
      if (cache) await cache.put(rec);
      remember(rec);
    };
    const recorded = r.layer && 'packed' in r.layer ? record() : Promise.resolve(await record());
    if (ctx.o.sourceDateEpoch === undefined) st.time = new Date(createdAt).toISOString();
    st.key = key;
    st.parentKind = 'step';
    return { result: r, recorded };
  };
  if (!cache || noCache) {
    const m = await miss();
    inBackground(ctx, m.recorded);
    return m.result;
  }
  // Step dedupe across processes (and stages): one builder per key at a time. Whoever gets the lock second finds
  // the record the first one wrote and takes the hit; a lock whose holder died is broken (lock.ts).
  const lockFile = ctx.layout.stepLockPath(key);
  mkdirSync(ctx.layout.cacheLocksDir, { recursive: true });
  if (lstatSync(lockFile, { throwIfNoEntry: false }) !== undefined) ctx.events({ type: 'info', message: `${name}: waiting for another build running the same step` });
  // The lock is held until the record is written (a second builder of this key then finds it and takes the
  // hit), but the step returns as soon as its result is usable.
  return new Promise<StepResult>((resolve, reject) => {
    let settled = false;
    const locked = withLock(lockFile, async () => {
      const again = await localHit(cache);
      if (again) {
        settled = true;
        resolve(hit(again));
        return;
      }
      const m = await miss();
      settled = true;
      resolve(m.result);
      await m.recorded;
    }, { timeoutMs: STEP_LOCK_TIMEOUT_MS, signal: ctx.signal });
    locked.catch((e: unknown) => { if (!settled) reject(e); });
    inBackground(ctx, locked);
  });
}
