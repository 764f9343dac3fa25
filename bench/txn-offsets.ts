/**
 * How long after a transaction's commit returns do its offsets show as the
 * group's committed offsets? Kafka applies them when the commit marker
 * reaches __consumer_offsets, a moment later; a consumer that fetches offsets
 * in that moment without requireStable (kafkajs) starts before the
 * transaction and tags its records twice. This measures the moment on a
 * local broker, commits made by each adapter's transactional producer: per
 * commit, whether the first read right after it was stale, and how long until
 * the offset showed, read on one kept-open kafkajs admin connection (OffsetFetch
 * v4, as the kafkajs consumer reads them). The kafkajs
 * consumer waits it out before returning to the library
 * (src/kafka/stable-offsets.ts); the numbers say what that wait costs.
 *
 *   node --import tsx bench/txn-offsets.ts [commits per adapter, default 300]
 *
 * Writes bench/results/txn-offsets.{json,md}.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalBroker } from '../src/dev/local-broker.ts';
import { createKafkaClient } from '../src/kafka/client.ts';
import type { KafkaClientName } from '../src/kafka/port.ts';
import { createKafka, withAdmin } from '../test/helpers/kafkajs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.argv[2] ?? 300);

interface Row {
  readonly adapter: KafkaClientName;
  readonly commits: number;
  readonly staleRightAfterCommit: number;
  readonly waitMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly error?: string;
}

const pct = (sorted: number[], q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2));

async function measure(adapter: KafkaClientName, brokers: string): Promise<Row> {
  return withAdmin(createKafka({ brokers, clientId: `txn-offsets-reader-${adapter}`, logLevel: 'nothing' }), (admin) => measureWith(adapter, brokers, admin));
}

async function measureWith(adapter: KafkaClientName, brokers: string, admin: Parameters<Parameters<typeof withAdmin>[1]>[0]): Promise<Row> {
  const client = await createKafkaClient({ connection: { client: adapter, brokers, clientId: `txn-offsets-${adapter}` }, logLevel: 'nothing' });
  const input = `txn-offsets-in-${adapter}`;
  const output = `txn-offsets-out-${adapter}`;
  const groupId = `txn-offsets-${adapter}`;
  await client.admin.ensureTopics([{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }]);
  const producer = client.producer({ transactionalId: `txn-offsets-${adapter}` });
  await producer.start();
  let stale = 0;
  const waits: number[] = [];
  try {
    for (let i = 1; i <= N; i++) {
      const txn = await producer.transaction();
      await txn.send([{ topic: output, value: `v${i}` }]);
      await txn.sendOffsets(groupId, [{ topic: input, partition: 0, offset: String(i) }]);
      await txn.commit();
      const t0 = performance.now();
      for (let read = 0; ; read++) {
        const [e] = await admin.fetchOffsets({ groupId, topics: [input] });
        const p = e?.partitions.find((x) => x.partition === 0);
        if (p && Number(p.offset) >= i) break;
        if (read === 0) stale++;
      }
      waits.push(performance.now() - t0);
    }
  } finally {
    await producer.stop();
  }
  waits.sort((a, b) => a - b);
  return { adapter, commits: N, staleRightAfterCommit: stale, waitMs: { p50: pct(waits, 0.5), p99: pct(waits, 0.99), max: pct(waits, 1) } };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'livetag-txn-offsets-'));
const broker = createLocalBroker({ dir, logger: { info: () => {}, warn: (m) => console.error(m) } });
await broker.start();
const rows: Row[] = [];
try {
  for (const adapter of ['kafkajs', 'confluent'] as const) {
    const row = await measure(adapter, broker.brokers).catch(
      (err: unknown): Row => ({ adapter, commits: 0, staleRightAfterCommit: 0, waitMs: { p50: 0, p99: 0, max: 0 }, error: (err as Error).message }),
    );
    console.log(JSON.stringify(row));
    rows.push(row);
  }
} finally {
  await broker.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

const results = path.join(ROOT, 'bench', 'results');
fs.writeFileSync(path.join(results, 'txn-offsets.json'), JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, rows }, null, 2) + '\n');
const md = [
  '# Transactional offsets: visible how long after the commit? (bench/txn-offsets.ts)',
  '',
  `${N} transactions per adapter on a local single-node broker (${os.cpus().length} cores), each one record and one offset; after each commit returned, the group's committed offset read on one open kafkajs admin connection (OffsetFetch v4, no requireStable: what the kafkajs consumer reads after a rebalance) until it showed. The wait is what the kafkajs consumer now adds per partition batch under exactly-once (src/kafka/stable-offsets.ts).`,
  '',
  '| adapter | commits | first read stale | wait p50 ms | wait p99 ms | wait max ms |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => (r.error ? `| ${r.adapter} | — | ${r.error} | | | |` : `| ${r.adapter} | ${r.commits} | ${r.staleRightAfterCommit} (${((100 * r.staleRightAfterCommit) / r.commits).toFixed(1)}%) | ${r.waitMs.p50} | ${r.waitMs.p99} | ${r.waitMs.max} |`)),
  '',
];
fs.writeFileSync(path.join(results, 'txn-offsets.md'), md.join('\n'));
console.log('wrote bench/results/txn-offsets.md');
