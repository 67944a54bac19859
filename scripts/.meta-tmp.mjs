import { build } from 'esbuild';
import * as B from './bundle.mjs';
const plugins = ['ownModulesPure', 'lazyStringWidth', 'lazyAnsiStyles', 'lazyAssert', 'yargsMainIsThePackage', 'yargsArgsertOnce', 'undiciAgentOnly'].map((n) => B[n]);
const r = await build({ entryPoints: { main: 'cli/bin.ts' }, bundle: true, splitting: true, platform: 'node', format: 'esm', target: 'node20', outdir: '/tmp/move-ab/esm', chunkNames: '[name]-[hash]', outExtension: { '.js': '.mjs' }, plugins, write: false, metafile: true, logLevel: 'warning' });
const [from, target] = process.argv.slice(2);
const inputs = r.metafile.inputs;
const start = Object.keys(inputs).find((k) => k.includes(from));
const prev = new Map([[start, null]]); const q = [start];
while (q.length) { const f = q.shift(); for (const i of inputs[f]?.imports ?? []) { if (!prev.has(i.path)) { prev.set(i.path, f); q.push(i.path); } } }
const hits = [...prev.keys()].filter((k) => k.includes(target));
for (const h of hits.slice(0, 4)) { const chain = []; let c = h; while (c) { chain.push(c); c = prev.get(c); } console.log(chain.reverse().join(' -> ')); }
