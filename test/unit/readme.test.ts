import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCliTable, renderReadme } from '../../scripts/update-readme.ts';
import { COMMANDS } from '../../src/cli/command-table.ts';
import { SETTINGS } from '../../src/consumer/config.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

const readme = (): string => readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

test('the README configuration table is the one generated from the schema', () => {
  const text = readme();
  assert.equal(text, renderReadme(text), 'run: node --import tsx scripts/update-readme.ts');
  for (const key of Object.keys(SETTINGS)) assert.ok(text.includes(`\`${key}\``), key);
});

test('the README CLI table is the one generated from the command declarations', () => {
  const text = readme();
  const block = /<!-- cli:start -->\n([\s\S]*?)\n<!-- cli:end -->/.exec(text);
  assert.ok(block, 'README.md lost its <!-- cli:start --> / <!-- cli:end --> markers');
  assert.equal(block[1], renderCliTable(), 'run: node --import tsx scripts/update-readme.ts');
  for (const { spec } of COMMANDS) {
    assert.ok(block[1].includes(`\`livetag ${spec.name}`), spec.name);
    for (const option of Object.keys(spec.options)) assert.ok(block[1].includes(`\`--${option}\``), `${spec.name} --${option}`);
  }
});
