import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createKafka, deleteTopics, ensureTopics } from '../../helpers/kafkajs.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createKafkaLabelSource } from '../../../src/training/kafka-label-source.ts';
import { collect } from '../../../src/training/label-source.ts';
import { runTrainJob } from '../../../src/training/train-job.ts';
import { tempDir } from '../../helpers/shared.ts';

// scripts/run-tests.ts starts a broker and sets KAFKA_BROKERS when integration tests are selected.
const brokers = process.env.KAFKA_BROKERS;
const skip = brokers ? undefined : 'KAFKA_BROKERS not set: run the whole suite (npm test), which starts a local broker';

test('labels topic: read to the end, offsets committed only on commit()', { skip, timeout: 120_000 }, async (t) => {
  const client = createKafka({ brokers: brokers!, clientId: 'livetag-test-labels', logLevel: 'nothing' });
  const topic = `labels-${process.pid}-${randomBytes(3).toString('hex')}`;
  const groupId = `${topic}-train`;
  await ensureTopics(client, [{ topic, partitions: 2 }]);
  t.after(() => deleteTopics(client, [topic]).catch(() => undefined));
  const producer = client.producer();
  await producer.connect();
  const send = (values: string[]) => producer.send({ topic, messages: values.map((value, i) => ({ key: String(i), value })) });
  const rowsOf = (n: number, p: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ text: `${p} ${i}`, labels: ['price'] }));
  try {
    await send([...rowsOf(4, 'first'), 'not json']);
    const read = async (): Promise<{ values: string[]; at: string[]; commit: () => Promise<void> }> => {
      const source = createKafkaLabelSource({ kafka: { brokers: brokers!.split(',') }, topic, groupId, readTimeoutMs: 60_000 });
      await source.start();
      const records = await collect(source);
      return { values: records.map((r) => r.value), at: records.map((r) => `${r.source}@${r.position}`), commit: async () => { await source.commit(); await source.stop(); } };
    };
    const a = await read();
    assert.equal(a.values.length, 5);
    assert.ok(new Set(a.at.map((x) => x.split('@')[0])).size === 2, `both partitions hold rows: ${a.at.join(' ')}`);
    // By partition, then offset, however the partitions' fetches interleaved: the split and a resume's fingerprint follow this order.
    const byPlace = [...a.at].sort((x, y) => x.split('@')[0].localeCompare(y.split('@')[0]) || Number(x.split('@')[1]) - Number(y.split('@')[1]));
    assert.deepEqual(a.at, byPlace);
    // Not committed: a failed run would see the same rows again, in the same order.
    const b = await read();
    assert.deepEqual(b.values, a.values);
    assert.deepEqual(b.at, a.at);
    await b.commit();
    const c = await read();
    assert.deepEqual(c.values, []);
    // Written in a transaction, so each partition ends with a commit marker no message carries.
    const txProducer = client.producer({ transactionalId: `${topic}-tx`, idempotent: true, maxInFlightRequests: 1 });
    await txProducer.connect();
    try {
      const tx = await txProducer.transaction();
      await tx.send({ topic, messages: rowsOf(2, 'second').map((value, i) => ({ key: String(i), value })) });
      await tx.commit();
    } finally {
      await txProducer.disconnect();
    }
    // The commit returns before the brokers write the markers; until then the
    // committed end (what the source reads up to, as a read_committed reader
    // must) still stops before the new rows. 5 + 2 rows + at least one marker.
    const admin = client.admin();
    await admin.connect();
    try {
      const deadline = Date.now() + 30_000;
      while ((await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0) < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await admin.disconnect();
    }
    const d = await read();
    assert.deepEqual(d.values.sort(), rowsOf(2, 'second').sort());

    // A run that fails (too few rows here) commits nothing.
    const dir = tempDir();
    const source = createKafkaLabelSource({ kafka: { brokers: brokers!.split(',') }, topic, groupId });
    await assert.rejects(
      runTrainJob({ data: [], sources: [source], recipe: 'livetag', out: join(dir, 'run'), quiet: true, log: () => {} }),
      (err: unknown) => isLivetagError(err, 'LT_DATA'),
    );
    assert.equal((await read()).values.length, 2);
  } finally {
    await producer.disconnect();
  }
});
