import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKafka, deleteTopics, ensureTopics } from '../../helpers/kafkajs.ts';
import { readCorpus, readTopicTexts, type CorpusTopic } from '../../../src/training/pretrain/corpus.ts';
import { runPretrainJob } from '../../../src/training/pretrain/pretrain-job.ts';
import { tempDir } from '../../helpers/shared.ts';
import { tinyPretrainOptions } from '../../unit/training/fixtures.ts';

// scripts/run-tests.ts starts a broker and sets KAFKA_BROKERS when integration tests are selected.
const brokers = process.env.KAFKA_BROKERS;
const skip = brokers ? undefined : 'KAFKA_BROKERS not set: run the whole suite (npm test), which starts a local broker';

test('pretrain --topic: the live comment topic read to its end or a record limit, as the service reads it, never committed', { skip, timeout: 180_000 }, async (t) => {
  const client = createKafka({ brokers: brokers!, clientId: 'livetag-test-pretrain-topic', logLevel: 'nothing' });
  const topic = `pretrain-${process.pid}-${randomBytes(3).toString('hex')}`;
  await ensureTopics(client, [{ topic, partitions: 2 }]);
  t.after(() => deleteTopics(client, [topic]).catch(() => undefined));
  const comments = Array.from({ length: 40 }, (_, i) => `这个${i}号多少钱 M码还有吗`);
  const messages = [
    ...comments.map((text, i) => ({ key: String(i), value: JSON.stringify({ text }) })),
    { key: 'a', value: 'not json' },
    { key: 'b', value: JSON.stringify({ comment: 'no text field' }) },
    { key: 'c', value: JSON.stringify({ text: comments[0] }) },
  ];
  const producer = client.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
  const spec = (over: Partial<CorpusTopic> = {}): CorpusTopic => ({ kafka: { brokers: brokers!.split(',') }, topic, groupId: `${topic}-pre`, maxRecords: 1000, maxSeconds: 60, ...over });
  const seen: string[] = [];
  const all = await readTopicTexts(spec(), (text) => (text ? (seen.push(text), true) : false));
  assert.deepEqual({ read: all.read, kept: all.kept, skipped: all.skipped, ended: all.ended }, { read: 43, kept: 41, skipped: 2, ended: 'end' });
  assert.deepEqual(new Set(seen), new Set(comments));

  // Another input mapping (serve's LIVETAG_INPUT_TEXT_FIELD, pretrain's --text-field): the text where it points.
  const other: string[] = [];
  const pointed = await readTopicTexts(spec({ textPointer: '/comment' }), (text) => (text ? (other.push(text), true) : false));
  assert.deepEqual({ read: pointed.read, kept: pointed.kept, skipped: pointed.skipped, texts: other }, { read: 43, kept: 1, skipped: 42, texts: ['no text field'] });

  // Nothing was committed: the same group reads everything again, here up to a record limit.
  const limited = await readTopicTexts(spec({ maxRecords: 10 }), () => true);
  assert.equal(limited.read, 10);
  assert.equal(limited.ended, 'max-records', 'the report says the topic was cut short');
  const admin = client.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId: `${topic}-pre`, topics: [topic] });
    assert.ok(offsets[0].partitions.every((p) => p.offset === '-1'), JSON.stringify(offsets));
  } finally {
    await admin.disconnect();
  }

  // Files and the topic together; the topic's duplicate of a file text is counted once.
  const lines: string[] = [];
  const corpus = await readCorpus([], spec(), (l) => lines.push(l));
  assert.equal(corpus.texts.length, 40);
  assert.equal(corpus.duplicates, 1);
  assert.ok(lines.some((l) => l.startsWith(`corpus: kafka:${topic}: 43 records, 40 new texts, 2 without text`)), lines.join('\n'));

  // The whole job from the topic alone.
  const dir = tempDir();
  await runPretrainJob(tinyPretrainOptions(join(dir, 'pre'), { topic: spec(), epochs: 1 }), () => {});
  const report = JSON.parse(readFileSync(join(dir, 'pre', 'report.json'), 'utf8'));
  assert.deepEqual(report.corpus.sources, [{ name: `kafka:${topic}`, read: 43, kept: 40, skipped: 2, ended: 'end' }]);
});
