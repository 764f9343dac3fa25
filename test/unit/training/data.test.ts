import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { formatDataReport, listDataFiles, textKey, validateRecords, type RawRecord } from '../../../src/training/data.ts';
import { tempDir } from '../../helpers/shared.ts';

const rec = (value: unknown, position: number, source = 'new.jsonl'): RawRecord => ({
  source,
  position,
  value: typeof value === 'string' ? value : JSON.stringify(value),
});

test('every kind of bad row is reported by source and line, and skipped', () => {
  const fresh = [
    rec({ text: 'good one', labels: ['price'] }, 1),
    rec('{"text": "broken', 2),
    rec({ text: 'no labels field' }, 3),
    rec({ text: '   ', labels: ['price'] }, 4),
    rec({ text: 'x'.repeat(50), labels: ['price'] }, 5),
    rec({ text: 'mystery tag', labels: ['price', 'teleport'] }, 6),
    rec({ text: 'good one', labels: ['price'] }, 7),
    rec({ text: 'which is it', labels: ['price'] }, 8),
    rec({ text: 'which is it', labels: ['size'] }, 9),
    rec([1, 2], 10),
  ];
  const { rows, report } = validateRecords([], fresh, { labels: ['price', 'size'], maxChars: 20 });
  assert.deepEqual(rows.map((r) => r.text), ['good one']);
  assert.deepEqual(report.counts, {
    'invalid-json': 1,
    'invalid-row': 2,
    'empty-text': 1,
    'too-long': 1,
    'unknown-label': 1,
    duplicate: 1,
    conflict: 2,
  });
  assert.equal(report.rejected, 8);
  assert.equal(report.accepted, 1);
  const at = (kind: string) => report.issues.filter((i) => i.kind === kind).map((i) => i.position);
  assert.deepEqual(at('invalid-json'), [2]);
  assert.deepEqual(at('invalid-row'), [3, 10]);
  assert.deepEqual(at('empty-text'), [4]);
  assert.deepEqual(at('too-long'), [5]);
  assert.deepEqual(at('unknown-label'), [6]);
  assert.deepEqual(at('duplicate'), [7]);
  assert.deepEqual(at('conflict'), [8, 9]);
  assert.match(report.issues.find((i) => i.kind === 'unknown-label')!.detail, /"teleport"/);
  const text = formatDataReport(report);
  assert.match(text, /new\.jsonl:2: invalid-json/);
  assert.match(text, /new\.jsonl:9: conflict/);
});

test('unknown labels can be added on request', () => {
  const { rows, labels, report } = validateRecords([], [rec({ text: 'a', labels: ['new-tag'] }, 1)], {
    labels: ['price'],
    addUnknownLabels: true,
  });
  assert.equal(rows.length, 1);
  assert.deepEqual(labels, ['price', 'new-tag']);
  assert.deepEqual(report.labelsAdded, ['new-tag']);
});

test('an open label set is ordered by frequency', () => {
  const { labels } = validateRecords([], [rec({ text: 'a', labels: ['x', 'y'] }, 1), rec({ text: 'b', labels: ['y'] }, 2)]);
  assert.deepEqual(labels, ['y', 'x']);
});

test('new labels for a previous text replace the old ones (relabel); previous rows are kept', () => {
  const previous = [rec({ id: 'p1', text: 'old text', labels: ['price'] }, 1, 'prev'), rec({ id: 'p2', text: 'kept', labels: ['size'] }, 2, 'prev')];
  const fresh = [rec({ text: 'old text', labels: ['size'] }, 1)];
  const { rows, report } = validateRecords(previous, fresh, { labels: ['price', 'size'] });
  const byText = new Map(rows.map((r) => [r.text, r]));
  assert.deepEqual(byText.get('old text')!.labels, ['size']);
  assert.equal(byText.get('old text')!.key, textKey('old text'));
  assert.equal(byText.get('kept')!.origin, 'previous');
  assert.equal(report.counts.relabeled, 1);
  assert.equal(report.previousRows, 1);
  assert.equal(report.newRows, 1);
});

test('rows with an empty label list are valid negatives', () => {
  const { rows, report } = validateRecords([], [rec({ text: 'hello', labels: [] }, 1)], { labels: ['price'] });
  assert.equal(rows.length, 1);
  assert.equal(report.rejected, 0);
});

test('a data path that does not exist is a usage error naming it; one that cannot be read otherwise stays LT_DATA', async () => {
  const dir = tempDir();
  const missing = join(dir, 'labels-typo.jsonl');
  await assert.rejects(listDataFiles(missing), (err: unknown) => isLivetagError(err, 'LT_USAGE') && err.message === `${missing}: no such file or directory`);
  // Other failures (here a file used as a directory) are not a typo: they stay LT_DATA.
  const file = join(dir, 'file.jsonl');
  writeFileSync(file, '');
  await assert.rejects(listDataFiles(join(file, 'x.jsonl')), (err: unknown) => isLivetagError(err, 'LT_DATA') && /cannot be read \(ENOTDIR\)/.test(err.message));
});
