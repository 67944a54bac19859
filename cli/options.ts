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
