/**
 * The `reference` fuzz target: parseReference on hosts, name components, tags and digests (valid, edge and
 * garbage), plus the round trip parse(format(r)) = r for every accepted reference.
 */
import fc from 'fast-check';
import { formatReference, parseReference } from '../../../registry-client/index.js';
import { applyEdits, edits, repetitions } from '../arbitraries.js';
import { describeError, PropertyFailure } from '../harness.js';

const HEX = '0123456789abcdef';
const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...HEX.split('')), minLength: n, maxLength: n });
const refHost = fc.oneof(
  fc.constantFrom('localhost:5000', 'ghcr.io', 'registry.example.com:443', '127.0.0.1:5000', '[::1]:5000', 'docker.io'),
  fc.constantFrom('localhost', 'localhost:5000', 'docker.io', 'index.docker.io', 'registry-1.docker.io', 'ghcr.io', 'a.b.c:1',
    '[::1]:5000', '[::1]', '[fe80::1%eth0]:5000', 'Foo', 'FOO.io', '127.0.0.1:5000', '-bad.io', 'a..b', 'a.b-.c', 'xn--bcher-kva.ch',
    ':5000', 'a:b:c', 'a:', '[', '[]', 'host:99999999999999999999', 'ex ample.com', 'ex_ample.com'),
  fc.string({ unit: fc.constantFrom(...'ab1.-:[]'.split('')), minLength: 1, maxLength: 12 }),
);
const refComponent = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('library', 'alpine', 'a', 'a-b', 'a__b', 'a_b', 'a.b', 'a--b', 'x1', '0', 'my-app.v2') },
  { weight: 2, arbitrary: fc.constantFrom('a___b', '_a', 'a_', '-a', 'A', '...', '', 'a..b') },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'ab1._-'.split('')), minLength: 1, maxLength: 10 }) },
);
const refTail = fc.oneof(
  fc.constant(''),
  fc.constant(''),
  fc.constantFrom(':latest', ':latest', ':1.0', ':v1.2.3', ':-x', `:${'a'.repeat(128)}`, `:${'a'.repeat(129)}`, ':.x', ':_x', ':', ':a/b', ':ä'),
  hex(64).map((h) => `@sha256:${h}`),
  fc.tuple(fc.constantFrom(':v1', ''), fc.constantFrom('@sha256:', '@sha512:', '@', '@sha256:X', '@SHA256:'), fc.oneof(hex(64), hex(63), hex(128), hex(0)))
    .map(([t, a, h]) => `${t}${a}${h}`),
);
export const referenceInput: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(fc.option(refHost, { nil: undefined }), fc.array(refComponent, { minLength: 1, maxLength: 4 }), refTail)
    .map(([h, cs, t]) => `${h !== undefined ? `${h}/` : ''}${cs.join('/')}${t}`) },
  { weight: 3, arbitrary: fc.tuple(fc.string({ unit: fc.constantFrom(...'aA0.:/@_-[] '.split('')), maxLength: 40 }), refTail).map(([s, t]) => s + t) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.tuple(referenceInputSeed(), edits).map(([s, e]) => applyEdits(s, e)) },
  { weight: 1, arbitrary: repetitions(['a', 'a.', 'a-', 'a_', 'a__', 'a/', 'A', '0', '[', ':', '@', '-', '.', 'a.b/', 'a-b.'],
    ['', '!', '-', '.', '/', ':', '@', 'A', '_', '/-', '.-/x', ':-', '@sha256:'], 50000) },
);
function referenceInputSeed(): fc.Arbitrary<string> {
  return fc.constantFrom('docker.io/library/alpine:3.19', 'localhost:5000/a/b@sha256:' + 'b'.repeat(64), 'ghcr.io/o/r:tag', 'alpine');
}

/** Parses a reference; accepted references must survive parse(format(r)) unchanged. */
export function runReference(input: string): void {
  const r = parseReference(input);
  const s = formatReference(r);
  let r2;
  try {
    r2 = parseReference(s);
  } catch (e) {
    throw new PropertyFailure('roundtrip', `formatReference output ${JSON.stringify(s)} does not parse again: ${describeError(e)}`);
  }
  const a = JSON.stringify([r.registry, r.repository, r.tag, r.digest]);
  const b = JSON.stringify([r2.registry, r2.repository, r2.tag, r2.digest]);
  if (a !== b) throw new PropertyFailure('roundtrip', `parse(format(r)) differs: ${a} vs ${b}`);
}
