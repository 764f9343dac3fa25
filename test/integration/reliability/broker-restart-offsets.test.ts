/**
 * Reading a group's committed offsets while the broker restarts, on each
 * adapter. The lag monitor and the exactly-once publisher do this after
 * every broker fault. On the confluent adapter it went through librdkafka's
 * admin API, whose coordinator requests crash the whole process while a
 * restarted broker loads its groups (SIGSEGV or an assertion abort;
 * librdkafka#5040, confluent-kafka-javascript#374): a crash here takes this
 * test file down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLocalBroker } from '../../../src/dev/local-broker.ts';
import { uniqueName } from '../helpers/kafka.ts';
import { ADAPTERS, portClientOrSkip } from './helpers.ts';

const NO_BROKER = process.env.LIVETAG_TEST_NO_LOCAL_BROKER === '1' && 'LIVETAG_TEST_NO_LOCAL_BROKER=1: the broker is killed, so it is a broker of this test';

for (const adapter of ADAPTERS) {
  test(`${adapter}: committed offsets read again and again while the broker restarts; the right answer once it is back`, { timeout: 180_000, skip: NO_BROKER }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-restart-offsets-'));
    const broker = createLocalBroker({ dir, logger: { info: () => {}, warn: (m) => t.diagnostic(`broker: ${m}`) } });
    t.after(async () => {
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await broker.start();
    const client = await portClientOrSkip(adapter, broker.brokers);
    if (typeof client === 'string') return t.skip(client);
    const topic = uniqueName('restart-offsets');
    const groupId = uniqueName('restart-offsets');
    await client.admin.ensureTopics([{ topic, partitions: 2 }]);
    assert.deepEqual(await client.admin.committedOffsets(groupId, topic), [{ partition: 0, offset: '-1' }, { partition: 1, offset: '-1' }], 'a group that committed nothing');
    await client.admin.setCommittedOffsets(groupId, topic, [{ partition: 0, offset: '5' }, { partition: 1, offset: '7' }]);

    await broker.kill();
    const restarted = broker.restart();
    let reads = 0;
    let answered = 0;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      reads++;
      if (await client.admin.committedOffsets(groupId, topic).then(() => true, () => false)) answered++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await restarted;
    t.diagnostic(`${reads} reads during and after the restart, ${answered} answered`);
    assert.deepEqual(await client.admin.committedOffsets(groupId, topic), [{ partition: 0, offset: '5' }, { partition: 1, offset: '7' }]);
  });
}
