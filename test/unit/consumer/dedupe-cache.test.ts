import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_CACHED_CHARS, createDedupeCache, normaliseText } from '../../../src/consumer/dedupe-cache.ts';
import type { Classification } from '../../../src/model/runtime/classifier.ts';

const result = (label: string): Classification => ({ tags: [{ label, score: 0.9 }] });

test('only the whitespace BERT\'s tokenizer collapses is normalised: \\v, \\f and U+FEFF keep a text apart', () => {
  assert.equal(normaliseText('  这个   多少钱\t\n'), '这个 多少钱');
  assert.equal(normaliseText('M码\u3000还有吗'), 'M码 还有吗', 'ideographic space is whitespace to it');
  for (const odd of ['size\uFEFFxl', 'size\vxl', 'size\fxl']) assert.notEqual(normaliseText(odd), 'size xl', JSON.stringify(odd));
  const cache = createDedupeCache(10);
  cache.set('size xl', result('size'));
  assert.equal(cache.get('size\uFEFFxl'), undefined, 'another model input, not a hit');
  assert.deepEqual(cache.get(' size  xl '), result('size'));
});

test('texts longer than MAX_CACHED_CHARS are not cached: each would hold its whole length as a key', () => {
  const cache = createDedupeCache(10);
  const long = '多'.repeat(MAX_CACHED_CHARS + 1);
  cache.set(long, result('price'));
  assert.equal(cache.size, 0);
  assert.equal(cache.get(long), undefined);
  const short = '多'.repeat(MAX_CACHED_CHARS);
  cache.set(short, result('price'));
  assert.deepEqual(cache.get(short), result('price'));
});
