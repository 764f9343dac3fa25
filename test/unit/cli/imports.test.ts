import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../../helpers/shared.ts';

const CLI = join(REPO_ROOT, 'src/cli');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Relative imports of a file, static and dynamic, as absolute paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((s) => resolve(dirname(file), s));
}

test('no command or declaration imports main.ts, another command, or the command table', () => {
  const leaves = [...sources(join(CLI, 'commands')), ...sources(join(CLI, 'specs'))];
  assert.ok(leaves.length >= 22, 'found the command and spec modules');
  for (const file of leaves) {
    for (const target of importsOf(file)) {
      const rel = relative(REPO_ROOT, target);
      assert.notEqual(rel, 'src/cli/main.ts', `${relative(REPO_ROOT, file)} imports main.ts`);
      assert.notEqual(rel, 'src/cli/command-table.ts', `${relative(REPO_ROOT, file)} imports the command table`);
      if (file.includes('/commands/')) assert.ok(!rel.startsWith('src/cli/commands/'), `${relative(REPO_ROOT, file)} imports ${rel}`);
    }
  }
});

test('src/cli has no import cycles (static or dynamic)', () => {
  const files = sources(CLI);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(CLI + '/'))]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    assert.notEqual(state.get(file), 'visiting', `cycle: ${[...path, file].map((f) => relative(CLI, f)).join(' → ')}`);
    state.set(file, 'visiting');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
});
