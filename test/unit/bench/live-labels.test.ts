/**
 * The hand labels of real live comments that bench/default-model-compare.ts
 * scores the default model on: a well-formed file, and the scoring arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KEYWORD_PATTERN, liveLabeledRows, readLiveLabels, scoreLive, type LiveRow } from '../../../bench/lib/live-labels.ts';
import { SHARED_DIR } from '../../../bench/lib/texts.ts';
import { tempDir } from '../../helpers/shared.ts';

test('the label file: 300 dev and 300 test lines of 10,000 and a keyword split, no line twice, known tags on listed lines', () => {
  const f = readLiveLabels();
  assert.equal(f.dev.length, 300);
  assert.equal(f.test.length, 300);
  assert.equal(f.keyword.length, 103);
  assert.ok([...f.dev, ...f.test, ...f.keyword].every((n) => n < 10000));
  const random = Object.keys(f.labels).filter((k) => !f.keyword.includes(Number(k))).length;
  assert.ok(random > 20 && random < 100, `${random} labeled random lines: these rooms are mostly chit-chat`);
  const keyword = f.keyword.filter((n) => f.labels[String(n)]).length;
  assert.ok(keyword > 30 && keyword < 80, `${keyword} of the keyword lines labeled: about half name a commerce word in another sense`);
});

test('a malformed label file is refused with the reason', () => {
  const dir = tempDir();
  const write = (doc: unknown): string => {
    const p = join(dir, `${Math.random()}.json`);
    writeFileSync(p, JSON.stringify(doc));
    return p;
  };
  assert.throws(() => readLiveLabels(write({ dev: [1, 2], test: [2], keyword: [], labels: {} })), /listed twice/);
  assert.throws(() => readLiveLabels(write({ dev: [1], test: [2], keyword: [1], labels: {} })), /listed twice/);
  assert.throws(() => readLiveLabels(write({ dev: [1], test: [2], keyword: [4], labels: { 3: ['price'] } })), /in no split/);
  assert.throws(() => readLiveLabels(write({ dev: [1], test: [2], keyword: [], labels: { 1: ['prize'] } })), /price/);
  assert.throws(() => readLiveLabels(write({ dev: [1], test: [2], labels: {} })), /keyword/);
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

test('the keyword split is every line outside dev and test whose text names a commerce word', (t) => {
  const path = resolve(SHARED_DIR, 'data/livechat-douyin/comments.jsonl');
  if (!existsSync(path)) return t.skip(`${path} is absent: the keyword split is chosen from its texts`);
  const f = readLiveLabels();
  const random = new Set([...f.dev, ...f.test]);
  const texts = readFileSync(path, 'utf8').split('\n');
  const matching = texts.flatMap((l, i) => (l.trim() && !random.has(i) && KEYWORD_PATTERN.test((JSON.parse(l) as { text: string }).text) ? [i] : []));
  assert.deepEqual(f.keyword, matching);
});
