import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../../src/common/errors.ts';
import { renderErrorDocs } from '../../../src/common/errors-doc.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');

test('docs/errors.md is the page generated from ERROR_CODES', () => {
  assert.equal(doc, renderErrorDocs(), 'run: node --import tsx scripts/update-error-docs.ts');
});

test('every code has one row with its retryable flag and advice', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const rows = doc.split('\n').filter((line) => line.startsWith(`| \`${code}\` |`));
    assert.equal(rows.length, 1, code);
    assert.ok(rows[0].includes(`| ${spec.retryable ? 'yes' : 'no'} |`), code);
    assert.ok(((spec as { hint?: string }).hint ?? '').length > 0, `${code} has no hint: say where it comes from and what to do`);
  }
});

test('a pipe in a description does not break the table', () => {
  const page = renderErrorDocs({ LT_X: { retryable: true, description: 'a | b', hint: 'c' } });
  assert.ok(page.includes('| `LT_X` | yes | a \\| b | c |'));
});
