import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivetagError } from '../../../../src/common/errors.ts';
import type { RawRecord } from '../../../../src/training/data.ts';
import type { LoadedData } from '../../../../src/training/steps/load-data.ts';
import { MIN_ROWS, validateData } from '../../../../src/training/steps/validate.ts';
import { TINY_LABELS, tinyRows } from '../fixtures.ts';

const records = (n: number, extra: string[] = []): RawRecord[] =>
  [...tinyRows(n, 2).map((r) => JSON.stringify(r)), ...extra].map((value, i) => ({ source: 'mem', position: i + 1, value }));
const scratch = (fresh: RawRecord[]): LoadedData => ({ fresh, init: { kind: 'scratch' } });

test('clean rows, the label set and the data report come out; the report is logged', async () => {
  const lines: string[] = [];
  const data = await validateData(scratch(records(20, ['{"text": "cut'])), { labels: TINY_LABELS }, (l) => lines.push(l));
  assert.equal(data.rows.length, 20);
  assert.deepEqual(data.labels, TINY_LABELS);
  assert.equal(data.report.counts['invalid-json'], 1);
  assert.equal(data.hf, undefined);
  assert.match(lines[0], /^data: 20 rows accepted \(0 previous, 20 new\), 1 records rejected/);
});

test(`fewer than ${MIN_ROWS} usable rows is LT_DATA (the CLI's exit 3)`, async () => {
  await assert.rejects(
    validateData(scratch(records(MIN_ROWS - 1)), {}, () => {}),
    (err: unknown) => isLivetagError(err, 'LT_DATA') && /only 9 usable rows/.test(err.message),
  );
});

test('--add-labels turns unknown labels into new ones instead of rejecting their rows', async () => {
  const withGift = records(12, [JSON.stringify({ text: '送个礼物吧', labels: ['gift'] })]);
  const refused = await validateData(scratch(withGift), { labels: TINY_LABELS }, () => {});
  assert.equal(refused.report.counts['unknown-label'], 1);
  const grown = await validateData(scratch(withGift), { labels: TINY_LABELS, addLabels: true }, () => {});
  assert.deepEqual(grown.labels, [...TINY_LABELS, 'gift']);
  assert.deepEqual(grown.report.labelsAdded, ['gift']);
});
