import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readToEnd } from '../../../src/kafka/read-to-end.ts';
import { portClientOrSkipReason, uniqueName } from '../helpers/kafka.ts';

const skip = process.env.KAFKA_BROKERS ? undefined : 'KAFKA_BROKERS not set: run the whole suite (npm test), which starts a local broker';

for (const name of ['kafkajs', 'confluent'] as const) {
  describe(`readToEnd: ${name}`, { skip, timeout: 180_000 }, () => {
    // A fetch returns at most ~1 MiB a partition: 3 MB takes several, each of which must start where the last ended.
    test('a partition larger than one fetch: every record once, in offset order', async (t) => {
      const client = await portClientOrSkipReason(name, `read-to-end-${name}`);
      if (typeof client === 'string') return t.skip(client);
      const topic = uniqueName('read-to-end');
      await client.admin.ensureTopics([{ topic, partitions: 1 }]);
      t.after(() => client.admin.deleteTopics([topic]).catch(() => undefined));
      const producer = client.producer();
      await producer.start();
      const pad = 'x'.repeat(1000);
      const count = 3000;
      try {
        for (let i = 0; i < count; i += 500) await producer.send(Array.from({ length: 500 }, (_, j) => ({ topic, value: JSON.stringify({ i: i + j, pad }) })));
      } finally {
        await producer.stop();
      }
      const offsets: bigint[] = [];
      await readToEnd(client, {
        topic,
        groupId: uniqueName('read-to-end-group'),
        ends: new Map([[0, BigInt(count)]]),
        timeoutMs: 60_000,
        atTimeout: 'fail',
        onRecord: (r) => offsets.push(BigInt(r.offset)) > 0,
      });
      assert.equal(offsets.length, count, `read ${offsets.length} records for ${count} (${new Set(offsets).size} distinct)`);
      assert.deepEqual(offsets, Array.from({ length: count }, (_, i) => BigInt(i)));
    });
  });
}
