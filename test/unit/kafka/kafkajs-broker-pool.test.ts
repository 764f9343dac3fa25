import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixOrphanedBrokers, kafkajsBrokerPool } from '../../../src/kafka/kafkajs-broker-pool.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A real kafkajs BrokerPool holding a seed broker and broker 1, which counts its disconnects. */
function poolWithBroker() {
  const pool = new (kafkajsBrokerPool())({ connectionPoolBuilder: {}, logger: { namespace: () => silent } }) as unknown as {
    brokers: Record<string, unknown>;
    seedBroker: unknown;
    removeBroker(d: { host: string; port: number }): void;
    disconnect(): Promise<void>;
  };
  const broker = (nodeId: number, port: number) => ({ nodeId, connectionPool: { host: '127.0.0.1', port }, disconnects: 0, async disconnect() { this.disconnects++; } });
  const seed = broker(0, 9092);
  const coordinator = broker(1, 9093);
  pool.seedBroker = seed;
  pool.brokers = { 1: coordinator };
  return { pool, coordinator };
}

test('kafkajs 2.2.4 drops a broker whose connection closed without disconnecting it; with the fix the pool disconnects it with the rest', async () => {
  // This file imports only the fix, so kafkajs' own methods run first.
  const before = poolWithBroker();
  before.pool.removeBroker({ host: '127.0.0.1', port: 9093 }); // what the consumer does on KafkaJSConnectionClosedError
  await before.pool.disconnect();
  assert.equal(before.coordinator.disconnects, 0, 'unfixed kafkajs never disconnects the dropped broker (a consumer group still holds it as coordinator)');

  assert.equal(fixOrphanedBrokers(), true);
  assert.equal(fixOrphanedBrokers(), true, 'applying it twice changes nothing');
  const after = poolWithBroker();
  after.pool.removeBroker({ host: '127.0.0.1', port: 9093 });
  assert.deepEqual(Object.keys(after.pool.brokers), [], 'the broker still leaves the pool, as before');
  await after.pool.disconnect();
  assert.equal(after.coordinator.disconnects, 1);
  await after.pool.disconnect();
  assert.equal(after.coordinator.disconnects, 1, 'a later disconnect does not reach it again');
});

test('a kafkajs whose removeBroker already disconnects is left as it is', () => {
  class Fixed {
    brokers: Record<string, { disconnect(): Promise<void> }> = {};
    removeBroker({ host }: { host: string }) {
      void this.brokers[host]?.disconnect();
      delete this.brokers[host];
    }
    async disconnect() {}
  }
  const before = Fixed.prototype.removeBroker;
  assert.equal(fixOrphanedBrokers(Fixed as never), false);
  assert.equal(Fixed.prototype.removeBroker, before);
});
