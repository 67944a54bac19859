import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseDockerfile } from '../../../builder/frontend/parser/index.js';

test('each instruction keeps the comments before it (BuildKit PrevComment): reset by a bare #, directives left out', () => {
  const ast = parseDockerfile('# check=skip=all\n# base image\nFROM scratch\n\n# one\n# two\nRUN a \\\n# inside\n  b\n# gone\n#\n# kept\nCOPY a b\nENV x=y\n');
  assert.deepEqual(ast.children.map((c) => c.comments ?? []), [['base image'], ['one', 'two'], ['kept'], []]);
  assert.equal(ast.directives.check, 'skip=all');
});
