import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { parseInputText } from '../../../src/consumer/input-message.ts';
import { DEAD_LETTER_HEADERS, DEAD_LETTER_MAX_ENVELOPE_BYTES, deadLetter, OutputMessageSchema, recordBytes, shrinkDeadLetter, tagsRecord } from '../../../src/consumer/output-record.ts';
import type { ConsumedRecord } from '../../../src/kafka/port.ts';

const record = (value: string): ConsumedRecord => ({ topic: 'in', partition: 0, offset: '7', key: null, value: Buffer.from(value), headers: {}, timestamp: '1700000000000', fetchedAt: 1 });

test('an input field named "scores" does not pose as the model\'s scores; other fields pass through and the record meets the output schema', () => {
  const raw = '{"text":"这个多少钱","id":"1","scores":"high","room":"r1","seller":{"id":9}}';
  const parsed = parseInputText(raw);
  assert.ok(parsed.ok);
  const context = { topic: 'out', model: { id: 'm', version: '1' }, classifiedAt: 2 };
  const plain = JSON.parse(String(tagsRecord(record(raw), parsed.message, { tags: [{ label: 'price', score: 0.9 }] }, context).value));
  assert.equal(plain.scores, undefined, 'scores were not asked for');
  assert.deepEqual(plain.seller, { id: 9 });
  assert.equal(plain.room, 'r1');
  assert.ok(OutputMessageSchema.safeParse(plain).success);
  const withScores = JSON.parse(String(tagsRecord(record(raw), parsed.message, { tags: [], scores: { price: 0.2 } }, context).value));
  assert.deepEqual(withScores.scores, { price: 0.2 });
});

test('a record is budgeted by its UTF-8 bytes: a Chinese comment costs three bytes a character, not one', () => {
  const text = '这个多少钱'.repeat(1000);
  const value = JSON.stringify({ text });
  const asString = recordBytes({ topic: 't', key: '主播', value, headers: { 来源: '直播间' } });
  const asBuffer = recordBytes({ topic: 't', key: Buffer.from('主播'), value: Buffer.from(value), headers: { 来源: Buffer.from('直播间') } });
  assert.equal(asString, asBuffer, 'a string and its bytes cost the same');
  assert.ok(asString >= Buffer.byteLength(value) && asString > 3 * text.length, `${asString} bytes for ${text.length} characters`);
});

test('recordBytes is never below the record batch the broker holds against max.message.bytes (encoded by kafkajs), alone or in a group', async () => {
  const require = createRequire(import.meta.url);
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;
  type Rec = { key: string | null; value: string; headers: Record<string, string> };
  // The far timestamp makes the timestamp delta's varint as long as it gets.
  const batchBytes = async (recs: Rec[]) =>
    (await RecordBatch({ records: recs.map((r, i) => Record({ offsetDelta: i, timestampDelta: i === 0 ? 0 : 2 ** 50, key: r.key, value: r.value, headers: r.headers })) })).buffer.length;
  const cases: Rec[] = [
    { key: null, value: 'x'.repeat(1_000_000), headers: {} },
    { key: 'room-1', value: 'x'.repeat(150_000), headers: {} },
    { key: null, value: 'x'.repeat(150_000), headers: { traceparent: '00-' + 'a'.repeat(49) } },
    { key: null, value: 'x'.repeat(100), headers: {} },
    { key: '主播', value: '这个多少钱', headers: { 来源: '直播间', b: '' } },
  ];
  for (const r of cases) {
    const encoded = await batchBytes([r]);
    const budget = recordBytes({ topic: 't', ...r });
    assert.ok(budget >= encoded, `${budget} budgeted for a ${encoded}-byte batch (${r.value.length}-byte value)`);
    assert.ok(budget - encoded <= 64, `a close bound: ${budget} for ${encoded}`);
  }
  const group = cases.slice(1);
  const sum = group.reduce((n, r) => n + recordBytes({ topic: 't', ...r }), 0);
  assert.ok(sum >= (await batchBytes(group)), 'a group is bounded by the sum of its records');
});

test('a dead letter keeps the original key and headers unless they alone are too large to publish; then it says what it left out', () => {
  const consumed = (key: Buffer | null, headers: ConsumedRecord['headers']): ConsumedRecord => ({ ...record('{"text":"x"}'), key, headers });
  const small = deadLetter(consumed(Buffer.from('room-1'), { traceparent: 't1' }), 'dlq', 'LT_MSG_INVALID', 'bad');
  assert.deepEqual(small.key, Buffer.from('room-1'));
  assert.equal(small.headers.traceparent, 't1');
  assert.equal(small.headers[DEAD_LETTER_HEADERS.dropped], undefined);

  const heavy = deadLetter(consumed(Buffer.from('room-1'), { a: 'x'.repeat(DEAD_LETTER_MAX_ENVELOPE_BYTES), b: 'y' }), 'dlq', 'LT_MSG_TOO_LARGE', 'too large');
  assert.equal(heavy.headers.a, undefined);
  assert.equal(heavy.headers.b, undefined, 'the headers go together: a partial set would pass for the original');
  // Names, values and 10 bytes of framing each.
  assert.equal(heavy.headers[DEAD_LETTER_HEADERS.dropped], `headers (${DEAD_LETTER_MAX_ENVELOPE_BYTES + 3 + 20} bytes)`);
  assert.deepEqual(heavy.key, Buffer.from('room-1'));
  assert.equal(heavy.headers[DEAD_LETTER_HEADERS.code], 'LT_MSG_TOO_LARGE', 'its own headers stay');
  assert.ok(recordBytes(heavy) < 4096, `${recordBytes(heavy)} bytes`);

  const longKey = deadLetter(consumed(Buffer.alloc(DEAD_LETTER_MAX_ENVELOPE_BYTES + 1), {}), 'dlq', 'LT_MSG_INVALID', 'bad');
  assert.equal(longKey.key, null);
  assert.equal(longKey.headers[DEAD_LETTER_HEADERS.dropped], `headers (0 bytes), key (${DEAD_LETTER_MAX_ENVELOPE_BYTES + 1} bytes)`);

  // After the dead-letter topic refused the bounded copy: value, key and original headers cut to the fallback.
  const refused = deadLetter(consumed(Buffer.from('room-1'), { a: 'x'.repeat(2_000) }), 'dlq', 'LT_MSG_TOO_LARGE', 'too large');
  assert.equal(refused.headers.a, 'x'.repeat(2_000), 'under the envelope bound: kept at first');
  const shrunk = shrinkDeadLetter({ ...refused, value: Buffer.alloc(5_000, 0x61) }, 1024);
  assert.equal((shrunk.value as Buffer).length, 1024);
  assert.equal(shrunk.headers.a, undefined);
  assert.equal(shrunk.headers[DEAD_LETTER_HEADERS.dropped], 'headers (2011 bytes)');
  assert.equal(shrunk.headers[DEAD_LETTER_HEADERS.truncated], 'true');
  assert.equal(shrunk.headers[DEAD_LETTER_HEADERS.originalSize], '5000');
  assert.equal(shrunk.headers[DEAD_LETTER_HEADERS.code], 'LT_MSG_TOO_LARGE');
  assert.deepEqual(shrunk.key, Buffer.from('room-1'));
  assert.ok(recordBytes(shrunk) < 1024 + 1024, `${recordBytes(shrunk)} bytes`);
  assert.deepEqual(shrinkDeadLetter(small, 1024).headers, small.headers, 'a small dead letter is unchanged');

  // Empty headers are not free on the wire: 200,000 of them are over the bound too.
  const empties = deadLetter(consumed(null, { '': Array<string>(200_000).fill('') }), 'dlq', 'LT_MSG_INVALID', 'bad');
  assert.equal(empties.headers[''], undefined);
  assert.equal(empties.headers[DEAD_LETTER_HEADERS.dropped], 'headers (2000000 bytes)');

  // A second leaving-out (the key, after a refusal) is added to the first one's account.
  const twice = shrinkDeadLetter(deadLetter(consumed(Buffer.alloc(2_048), { a: 'x'.repeat(70_000) }), 'dlq', 'LT_MSG_INVALID', 'bad'), 1024);
  assert.equal(twice.key, null);
  assert.equal(twice.headers[DEAD_LETTER_HEADERS.dropped], 'headers (70011 bytes); then headers (0 bytes), key (2048 bytes)');
});
