/**
 * Read as docker/buildkit-syft-scanner's own example checks read BuildKit's SBOMs (the examples' checks/*.spdx.json files
 * with its cmd/check: the check document must be a subset of the SBOM; `"=v"` binds a value, `"==v"` must equal
 * it): a Go binary at bin/app is evident-by its module packages (examples/golang), and an Alpine package
 * CONTAINS its files (examples/alpine: git CONTAINS usr/bin/git). The matcher below is our own reading of that
 * contract, run on the SPDX predicate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSbom } from '../../../builder/attest/sbom/index.js';
import { goElf } from '../../helpers/go-elf.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Returns the first mismatch of `check` against `target` (undefined: it matches), binding `=v` on the `bind` pass. */
function mismatch(check: Json, target: Json, vars: Map<string, Json>, bind: boolean, at = '$'): string | undefined {
  if (typeof check === 'string' && check.startsWith('==')) {
    if (bind) return undefined;
    const k = check.slice(2);
    if (!vars.has(k)) return `${at}: variable ${k} unbound`;
    return vars.get(k) === target ? undefined : `${at}: ${JSON.stringify(target)} is not ${k}=${JSON.stringify(vars.get(k))}`;
  }
  if (typeof check === 'string' && check.startsWith('=')) {
    if (bind) vars.set(check.slice(1), target);
    return undefined;
  }
  if (Array.isArray(check)) {
    if (!Array.isArray(target) || target.length < check.length) return `${at}: not an array of at least ${check.length}`;
    for (const [i, c] of check.entries()) {
      if (!target.some((t) => mismatch(c, t, vars, bind, `${at}[${i}]`) === undefined)) return `${at}[${i}]: no element matches ${JSON.stringify(c)}`;
    }
    return undefined;
  }
  if (check && typeof check === 'object') {
    if (!target || typeof target !== 'object' || Array.isArray(target)) return `${at}: not an object`;
    for (const [k, c] of Object.entries(check)) {
      if (!(k in target)) return `${at}.${k}: missing`;
      const m = mismatch(c, target[k]!, vars, bind, `${at}.${k}`);
      if (m) return m;
    }
    return undefined;
  }
  return check === target ? undefined : `${at}: ${JSON.stringify(target)} is not ${JSON.stringify(check)}`;
}

function check(checkDoc: Json, doc: unknown): string | undefined {
  const vars = new Map<string, Json>();
  const target = JSON.parse(JSON.stringify(doc)) as Json;
  return mismatch(checkDoc, target, vars, true) ?? mismatch(checkDoc, target, vars, false);
}

test('our SBOMs pass checks written like buildkit-syft-scanner\'s golang and alpine examples', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-sbom-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'usr/bin'), { recursive: true });
  mkdirSync(join(dir, 'lib/apk/db'), { recursive: true });
  writeFileSync(join(dir, 'bin/app'), goElf('go1.22.1', 'path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgithub.com/spf13/cobra\tv1.8.0\th1:x\n', 'inline'), { mode: 0o755 });
  writeFileSync(join(dir, 'usr/bin/git'), 'not really git');
  writeFileSync(join(dir, 'lib/apk/db/installed'), 'P:git\nV:2.43.0-r0\nA:x86_64\nL:GPL-2.0-or-later\nF:usr/bin\nR:git\n\n');
  const doc = await generateSbom({ layers: [dir], name: 'sbom', kind: 'directory', created: new Date(0) });

  const golang: Json = {
    SPDXID: 'SPDXRef-DOCUMENT', name: 'sbom',
    packages: [{ SPDXID: '=package', name: 'github.com/spf13/cobra' }],
    files: [{ SPDXID: '=filename', fileName: 'bin/app' }],
    relationships: [{ spdxElementId: '==package', relationshipType: 'OTHER',
      comment: "evident-by: indicates the package's existence is evident by the given file", relatedSpdxElement: '==filename' }],
  };
  const alpine: Json = {
    SPDXID: 'SPDXRef-DOCUMENT', name: 'sbom',
    packages: [{ SPDXID: '=package', name: 'git' }],
    files: [{ SPDXID: '=filename', fileName: 'usr/bin/git' }],
    relationships: [{ spdxElementId: '==package', relationshipType: 'CONTAINS', relatedSpdxElement: '==filename' }],
  };
  assert.equal(check(golang, doc), undefined);
  assert.equal(check(alpine, doc), undefined);
  // and the checker can fail: a package the image does not have, a file no package declared
  assert.notEqual(check({ ...alpine as object, packages: [{ SPDXID: '=package', name: 'curl' }] }, doc), undefined);
  assert.notEqual(check({ ...golang as object, files: [{ SPDXID: '=filename', fileName: 'usr/bin/git' }] }, doc), undefined);
  assert.ok(doc.relationships.some((r) => r.relationshipType === 'DESCRIBES' && r.relatedSpdxElement === 'SPDXRef-DocumentRoot-Directory-sbom'));
});
