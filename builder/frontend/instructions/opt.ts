/** `{ [k]: v }` when v is defined, `{}` otherwise (exactOptionalPropertyTypes-friendly). */
export function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}
