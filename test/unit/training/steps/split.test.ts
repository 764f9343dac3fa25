import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { textKey, type LabeledRow } from '../../../../src/training/data.ts';
import { readSplits } from '../../../../src/training/run-dir.ts';
import { splitData, splitRows } from '../../../../src/training/steps/split.ts';
import { tempDir } from '../../../helpers/shared.ts';
import { TINY_LABELS, tinyRows } from '../fixtures.ts';

function labeled(n: number, seed: number, prefix = ''): LabeledRow[] {
  return tinyRows(n, seed, prefix).map((r) => ({ key: textKey(r.text), id: r.id, text: r.text, labels: r.labels, origin: 'new' as const }));
}

test('every row lands in exactly one split, by the ratios, the same for the same seed', () => {
  const rows = labeled(100, 3);
  const plan = splitRows({ rows, labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 7 });
  const all = [...plan.trainRows, ...plan.valRows, ...plan.testRows].sort((a, b) => a - b);
  assert.deepEqual(all, [...rows.keys()]);
  assert.ok(Math.abs(plan.trainRows.length - 60) <= 5 && Math.abs(plan.testRows.length - 20) <= 5, JSON.stringify([plan.trainRows.length, plan.testRows.length]));
  assert.equal(plan.pinned, 0);
  assert.equal(plan.pinnedTest, 0);
  assert.deepEqual(plan.splits.ratios, [0.6, 0.2, 0.2]);
  for (const i of plan.testRows) assert.equal(plan.splits.assignments[rows[i].key], 'test');
  assert.deepEqual(splitRows({ rows, labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 7 }), plan);
});

test('rows the previous run placed stay where they were; only new rows are stratified', () => {
  const old = labeled(60, 4);
  const first = splitRows({ rows: old, labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 1 });
  const rows = [...old, ...labeled(30, 5, 'n')];
  // A different seed must not move the pinned rows.
  const second = splitRows({ rows, labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 99, previous: first.splits });
  assert.equal(second.pinned, 60);
  assert.equal(second.pinnedTest, first.testRows.length);
  for (const [i, r] of old.entries()) assert.equal(second.split[i], first.split[i], r.key);
});

test('splitData logs the split and writes the data and splits.json beside the bundle', async () => {
  const dir = tempDir();
  const rows = labeled(30, 6);
  const lines: string[] = [];
  const plan = await splitData({ rows, labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 13 }, dir, (l) => lines.push(l));
  assert.deepEqual(lines, [`split (seed 13): train ${plan.trainRows.length}, validation ${plan.valRows.length}, test ${plan.testRows.length} (0 rows kept where the previous run put them)`]);
  assert.deepEqual(await readSplits(join(dir, 'splits.json')), plan.splits);
  assert.equal(readFileSync(join(dir, 'train-data.jsonl'), 'utf8').trim().split('\n').length, 30);
  assert.equal(readFileSync(join(dir, 'test.jsonl'), 'utf8').trim().split('\n').length, plan.testRows.length);
});

test('texts that differ only in whitespace (the same model input) share one split; a pinned one decides where', () => {
  const base = labeled(60, 5);
  const spaced = (t: string): string => [...t].join(' ');
  const variants = base.slice(0, 20).flatMap((r) => [spaced(r.text), `${r.text}\t`.replace(/^(.)/, '$1  ')].map((text) => ({ ...r, key: textKey(text), text })));
  const rows = [...base, ...variants];
  const plan = splitRows({ rows, labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 3 });
  const splitOf = (i: number): string => plan.split[i];
  for (let i = 0; i < 20; i++) {
    assert.equal(splitOf(60 + 2 * i), splitOf(i), rows[60 + 2 * i].text);
    assert.equal(splitOf(61 + 2 * i), splitOf(i), rows[61 + 2 * i].text);
  }
  // Pinned by an earlier run: the new spelling follows it.
  const previous = { ...plan.splits, assignments: { ...plan.splits.assignments, [rows[0].key]: 'test' as const } };
  const respaced = `${base[0].text[0]} ${base[0].text.slice(1)}`;
  const later = splitRows({ rows: [base[0], { ...base[0], key: textKey(respaced), text: respaced }], labels: TINY_LABELS, ratios: [0.6, 0.2, 0.2], seed: 3, previous });
  assert.deepEqual(later.split, ['test', 'test']);
});
