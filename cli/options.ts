import { TsbuildError } from '../layer-store/core/index.js';

/**
 * A repeatable string option (`-t a -t b`). yargs' `array: true` would also swallow the positional arguments
 * that follow (`-t name .`), so repeated flags are collected by yargs' duplicate-argument rule and coerced.
 */
export function listOption(describe: string, alias?: string) {
  return {
    type: 'string' as const,
    default: [] as string[],
    ...(alias ? { alias } : {}),
    coerce: (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]),
    describe,
  };
}

/** Parses a docker-style size: `512m`, `1g`, `1048576`. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new TsbuildError('USAGE', `invalid size ${JSON.stringify(s)}`, { hint: 'write a number with an optional unit: 512m, 2g' });
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}
