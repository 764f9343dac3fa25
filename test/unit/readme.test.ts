import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReadme } from '../../scripts/update-readme.ts';
import { SETTINGS } from '../../src/consumer/config.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

test('the README configuration table is the one generated from the schema', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.equal(readme, renderReadme(readme), 'run: node --import tsx scripts/update-readme.ts');
  for (const key of Object.keys(SETTINGS)) assert.ok(readme.includes(`\`${key}\``), key);
});
