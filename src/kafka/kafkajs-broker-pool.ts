import { createRequire } from 'node:module';

/** The part of kafkajs' BrokerPool (and of its Broker) the fix reads and wraps. */
interface PoolBroker {
  connectionPool: { host: string; port: number };
  disconnect(): Promise<void>;
}
interface BrokerPool {
  brokers: Record<string, PoolBroker>;
  removeBroker(destination: { host: string; port: number }): void;
  disconnect(): Promise<void>;
}

type BrokerPoolClass = { prototype: BrokerPool } & (new (opts: Record<string, unknown>) => BrokerPool);

const FIXED = Symbol.for('livetag.kafkajs.orphanedBrokerFix');
const ORPHANS = Symbol.for('livetag.kafkajs.orphanedBrokers');

export function kafkajsBrokerPool(): BrokerPoolClass {
  return createRequire(import.meta.url)('kafkajs/src/cluster/brokerPool.js') as BrokerPoolClass;
}

/**
 * kafkajs 2.2.4 drops a broker from its pool when a connection to it closes
 * (a broker killed or restarted) without disconnecting it, while the consumer
 * group keeps it as its coordinator: the next heartbeat reconnects it, and
 * the pool's disconnect() never reaches it. After a broker restart that one
 * socket outlived consumer.disconnect() and kept a stopped `livetag serve`
 * running (the chaos runs, 4 of 8). With the fix the pool remembers what it
 * dropped and disconnects it with the rest. It changes nothing in a kafkajs
 * whose removeBroker already disconnects.
 *
 * @returns whether the fix is in place now
 */
export function fixOrphanedBrokers(pool: BrokerPoolClass = kafkajsBrokerPool()): boolean {
  const proto = pool.prototype as BrokerPool & { [FIXED]?: true };
  if (proto[FIXED]) return true;
  const remove = proto.removeBroker;
  const source = remove.toString();
  if (!/delete this\.brokers\[/.test(source) || /\.disconnect\(/.test(source)) return false;
  const disconnect = proto.disconnect;
  type Pool = BrokerPool & { [ORPHANS]?: Set<PoolBroker> };
  proto.removeBroker = function removeBroker(this: Pool, destination: { host: string; port: number }): void {
    const dropped = Object.values(this.brokers).find((b) => b.connectionPool.host === destination.host && b.connectionPool.port === destination.port);
    if (dropped) (this[ORPHANS] ??= new Set()).add(dropped);
    remove.call(this, destination);
  };
  proto.disconnect = async function disconnectWithOrphans(this: Pool): Promise<void> {
    const orphans = [...(this[ORPHANS] ?? [])];
    this[ORPHANS]?.clear();
    // A dropped broker's connection may already be gone; closing it again is harmless, and must not fail the rest.
    await Promise.all([disconnect.call(this), ...orphans.map((b) => b.disconnect().catch(() => undefined))]);
  };
  proto[FIXED] = true;
  return true;
}
