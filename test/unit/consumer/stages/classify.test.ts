import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createClassifier } from '../../../../src/model/runtime/classifier.ts';
import { writeRandomBundle } from '../../../../src/model/build/random-bundle.ts';
import { createClassifyStage } from '../../../../src/consumer/stages/classify.ts';
import type { ConsumedRecord } from '../../../../src/kafka/port.ts';
import { createServeMetrics } from '../../../../src/consumer/metrics.ts';
import { DEAD_LETTER_HEADERS, OutputMessageSchema, recordBytes } from '../../../../src/consumer/output-record.ts';
import { isLivetagError } from '../../../../src/common/errors.ts';
import { tempDir } from '../../../helpers/shared.ts';

const dir = tempDir();
const ready = Promise.all([
  writeRandomBundle(join(dir, 'a'), { shape: 'tiny', seed: 1 }),
  writeRandomBundle(join(dir, 'b'), { shape: 'tiny', seed: 2 }),
]);

const record = (offset: number, value: string | Buffer | null, key = 'room-1'): ConsumedRecord => ({
  topic: 'in',
  partition: 0,
  offset: String(offset),
  key: Buffer.from(key),
  value: typeof value === 'string' ? Buffer.from(value) : value,
  headers: { trace: `t${offset}` },
  timestamp: String(1_700_000_000_000 + offset),
});

async function pipelineFor(bundle: string, dedupe = 100, maxOutputBytes?: number) {
  const classifier = await createClassifier({ bundle, worker: false, threads: 1 });
  const metrics = createServeMetrics();
  const pipeline = createClassifyStage({
    classifier,
    outputTopic: 'out',
    deadLetterTopic: 'dlq',
    batch: { maxSize: 4, maxWaitMs: 1, maxTokens: 1000 },
    maxMessageBytes: 200,
    ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }),
    dedupeCacheSize: dedupe,
    allScores: true,
    metrics,
  });
  return { pipeline, metrics, classifier };
}

test('outputs in source order; invalid records become dead letters with their reason; nothing dropped', async () => {
  await ready;
  const { pipeline } = await pipelineFor(join(dir, 'a'));
  const records = [
    record(0, JSON.stringify({ text: '这个多少钱', room: 'r1', user: 'u1', extra: { a: 1 } })),
    record(1, '{oops'),
    record(2, JSON.stringify({ text: 'M码还有吗', id: 'custom-id' })),
    record(3, JSON.stringify({ text: 'x'.repeat(300) })),
    record(4, null),
    { ...record(5, JSON.stringify({ text: '😀😀' })), fetchedAt: 1_700_000_000_042 },
  ];
  const out = await pipeline.process(records);
  assert.deepEqual(out.map((o) => o.topic), ['out', 'dlq', 'out', 'dlq', 'dlq', 'out']);
  const first = JSON.parse(String(out[0].value));
  assert.equal(first.id, 'in-0-0');
  assert.equal(first.room, 'r1');
  assert.equal(first.user, 'u1');
  assert.deepEqual(first.extra, { a: 1 }, 'extra fields pass through');
  assert.deepEqual(first.source, { topic: 'in', partition: 0, offset: '0' });
  assert.equal(first.timing.producedAt, 1_700_000_000_000);
  assert.ok(!('fetchedAt' in first.timing), 'a record without a receipt time has no fetchedAt');
  const fetched = OutputMessageSchema.parse(JSON.parse(String(out[5].value)));
  assert.equal(fetched.timing.fetchedAt, 1_700_000_000_042, 'the consumer\'s receipt time is kept');
  assert.equal(Object.keys(first.scores).length, 13);
  assert.equal(JSON.parse(String(out[2].value)).id, 'custom-id');
  assert.deepEqual(out[0].key, Buffer.from('room-1'));
  assert.equal(out[0].headers.trace, 't0');
  assert.equal(out[1].headers['livetag-error-code'], 'LT_MSG_BAD_JSON');
  assert.equal(out[3].headers['livetag-error-code'], 'LT_MSG_TOO_LARGE');
  assert.equal(out[1].headers[DEAD_LETTER_HEADERS.sourceOffset], '1');
  assert.equal(out[1].headers['__connect.errors.offset'], '1', 'Kafka Connect\'s header name');
  assert.deepEqual(out[1].value, Buffer.from('{oops'), 'original bytes');
  await pipeline.stop();
});

test('a tags record over maxOutputBytes is dead-lettered as LT_OUTPUT_TOO_LARGE with the original bytes, not published to stall its partition', async () => {
  await ready;
  // 13 scores, model, source and timing make a tags record ~700 bytes beyond its input's fields.
  const small = JSON.stringify({ text: '这个多少钱' });
  const wide = JSON.stringify({ text: '这个多少钱', note: 'n'.repeat(190 - 28) });
  assert.ok(Buffer.byteLength(wide) <= 200, 'the input itself is under maxMessageBytes');
  // The limit sits between the two tags records' sizes, as an unbounded stage makes them.
  const free = await pipelineFor(join(dir, 'a'), 0);
  const [smallBytes, wideBytes] = (await free.pipeline.process([record(0, small), record(1, wide)])).map(recordBytes);
  await free.pipeline.stop();
  const limit = Math.round((smallBytes + wideBytes) / 2);
  const { pipeline } = await pipelineFor(join(dir, 'a'), 100, limit);
  const out = await pipeline.process([record(0, small), record(1, wide), record(2, small)]);
  assert.deepEqual(out.map((o) => o.topic), ['out', 'dlq', 'out'], 'the same text classifies; only the record whose output is too large is dead-lettered');
  assert.equal(recordBytes(out[0]), smallBytes);
  assert.equal(out[1].headers['livetag-error-code'], 'LT_OUTPUT_TOO_LARGE');
  assert.equal(String(out[1].headers[DEAD_LETTER_HEADERS.reason]), `its tags record would be ${wideBytes} bytes, over LIVETAG_MAX_OUTPUT_BYTES (${limit})`);
  assert.deepEqual(out[1].value, Buffer.from(wide), 'the input travels to the dead-letter topic whole');
  assert.equal(out[1].headers[DEAD_LETTER_HEADERS.sourceOffset], '1');
  await pipeline.stop();
});

test('repeats are served from the cache with the same result', async () => {
  await ready;
  const { pipeline, metrics } = await pipelineFor(join(dir, 'a'));
  const a = await pipeline.process([record(0, JSON.stringify({ text: '多少钱' })), record(1, JSON.stringify({ text: '  多少钱 ' }))]);
  const b = await pipeline.process([record(2, JSON.stringify({ text: '多少钱' }))]);
  const tags = (o: { value: Buffer | string }) => JSON.stringify(JSON.parse(String(o.value)).scores);
  assert.equal(tags(a[0]), tags(a[1]));
  assert.equal(tags(a[0]), tags(b[0]));
  assert.equal((await metrics.cacheHits.get()).values[0].value, 1);
  assert.equal((await metrics.cacheLookups.get()).values[0].value, 3);
  await pipeline.stop();
});

test('swap serves the new model from the next chunk and drains the old one', async () => {
  await ready;
  const { pipeline } = await pipelineFor(join(dir, 'a'));
  const other = await createClassifier({ bundle: join(dir, 'b'), worker: false, threads: 1 });
  const rec = [record(0, JSON.stringify({ text: '发货吗' }))];
  const before = JSON.parse(String((await pipeline.process(rec))[0].value)).model.version;
  const inFlight = pipeline.process([record(1, JSON.stringify({ text: '包邮吗' }))]);
  const old = await pipeline.swap(other);
  const during = JSON.parse(String((await inFlight)[0].value)).model.version;
  const after = JSON.parse(String((await pipeline.process(rec))[0].value)).model.version;
  assert.equal(during, before, 'a chunk under way finishes on the model that tokenized it');
  assert.equal(after, other.manifest.version);
  assert.notEqual(before, after);
  await old.stop();
  await pipeline.stop();
});

test('a model stopped under a chunk (a stop past its drain deadline) fails the chunk with LT_STOPPED: nothing is dead-lettered, so nothing is committed', async () => {
  await ready;
  const { pipeline, classifier } = await pipelineFor(join(dir, 'a'));
  const records = [record(0, JSON.stringify({ text: '这个多少钱' })), record(1, '{oops'), record(2, JSON.stringify({ text: '什么时候发货' }))];
  assert.deepEqual((await pipeline.process(records.slice(0, 1))).map((o) => o.topic), ['out']);
  await classifier.stop();
  // Before: the two good texts came back as dead letters coded LT_STOPPED, ready to publish and commit.
  await assert.rejects(pipeline.process(records), (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
  await pipeline.stop();
});
