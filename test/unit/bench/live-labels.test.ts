/**
 * The hand labels of real live comments that bench/default-model-compare.ts
 * scores the default model on: a well-formed file, and the scoring arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { liveLabeledRows, readLiveLabels, scoreLive, type LiveRow } from '../../../bench/lib/live-labels.ts';
import { SHARED_DIR } from '../../../bench/lib/texts.ts';
import { tempDir } from '../../helpers/shared.ts';

test('the label file: 300 dev and 300 test lines of 10,000, no line twice, known tags on lines of either split', () => {
  const f = readLiveLabels();
  assert.equal(f.dev.length, 300);
  assert.equal(f.test.length, 300);
  assert.ok([...f.dev, ...f.test].every((n) => n < 10000));
  const labeled = Object.keys(f.labels).length;
  assert.ok(labeled > 20 && labeled < 100, `${labeled} labeled lines: these rooms are mostly chit-chat`);
});

test('a malformed label file is refused with the reason', () => {
  const dir = tempDir();
  const write = (doc: unknown): string => {
    const p = join(dir, `${Math.random()}.json`);
    writeFileSync(p, JSON.stringify(doc));
    return p;
  };
  assert.throws(() => readLiveLabels(write({ dev: [1, 2], test: [2], labels: {} })), /listed twice/);
  assert.throws(() => readLiveLabels(write({ dev: [1], test: [2], labels: { 3: ['price'] } })), /neither split/);
  assert.throws(() => readLiveLabels(write({ dev: [1], test: [2], labels: { 1: ['prize'] } })), /price/);
});

test('scores: untagged rows that fired, micro precision/recall with and without host, exact sets', () => {
  const rows: LiveRow[] = [
    { line: 0, text: 'a', labels: [] },
    { line: 1, text: 'b', labels: [] },
    { line: 2, text: 'c', labels: ['host'] },
    { line: 3, text: 'd', labels: ['price', 'link'] },
  ];
  const s = scoreLive(rows, [['price'], [], ['host', 'color'], ['price']]);
  assert.equal(s.untagged, 2);
  assert.equal(s.untaggedFired, 1);
  assert.deepEqual(s.all, { tp: 2, fp: 2, fn: 1 });
  assert.deepEqual(s.commerce, { tp: 1, fp: 2, fn: 1 });
  assert.equal(s.exact, 1);
});

test('the labeled lines resolve to the comments in ../shared', (t) => {
  const path = resolve(SHARED_DIR, 'data/livechat-douyin/comments.jsonl');
  if (!existsSync(path)) return t.skip(`${path} is absent: the labels name its lines`);
  const r = liveLabeledRows();
  assert.ok(!('missing' in r));
  for (const rows of Object.values(r.rows)) assert.ok(rows.every((x) => x.text.trim().length > 0));
  // A line the labels were written against: a question about delivery.
  assert.ok(r.rows.dev.some((x) => x.labels.includes('shipping') && /快递/.test(x.text)));
});
