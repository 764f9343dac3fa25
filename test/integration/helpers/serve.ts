import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { withAdmin, type KafkaClient, type KafkaMessage } from '../../helpers/kafkajs.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';
import { brokersFromEnv, uniqueName, useGroup, useTopic, waitUntil } from './kafka.ts';

export interface Received {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

let bundlePromise: Promise<string> | undefined;
/** One tiny random-weight bundle per test process: the graph is real, the tags meaningless. */
export function tinyBundle(): Promise<string> {
  bundlePromise ??= (async () => {
    const dir = join(tempDir('livetag-serve-'), 'tiny');
    await writeRandomBundle(dir, { shape: 'tiny', seed: 5 });
    return dir;
  })();
  return bundlePromise;
}

export interface ServeTopics {
  readonly input: string;
  readonly output: string;
  readonly dlq: string;
  readonly group: string;
}

/** Input, output and dead-letter topics (same partition count) and a group, all removed after the test. */
export async function serveTopics(t: TestContext, client: KafkaClient, partitions: number, configs?: Record<string, string>): Promise<ServeTopics> {
  const opts = { partitions, client, ...(configs ? { configs } : {}) };
  // One at a time: concurrent CreateTopics with waitForLeaders can race the metadata refresh.
  const input = await useTopic(t, { prefix: 'serve-in', ...opts });
  const output = await useTopic(t, { prefix: 'serve-out', ...opts });
  const dlq = await useTopic(t, { prefix: 'serve-dlq', ...opts });
  return { input, output, dlq, group: useGroup(t, 'serve', client) };
}

export function serveEnv(topics: ServeTopics, bundle: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LIVETAG_KAFKA_BROKERS: brokersFromEnv(),
    LIVETAG_INPUT_TOPIC: topics.input,
    LIVETAG_OUTPUT_TOPIC: topics.output,
    LIVETAG_DLQ_TOPIC: topics.dlq,
    LIVETAG_GROUP_ID: topics.group,
    LIVETAG_MODEL: bundle,
    LIVETAG_HTTP_PORT: '0',
    LIVETAG_HTTP_HOST: '127.0.0.1',
    LIVETAG_THREADS: '1',
    LIVETAG_TRANSACTIONAL_ID: uniqueName('txn'),
    ...extra,
  };
}

/** `livetag serve` as a child process (for signal tests); killed when the test ends. */
export function spawnServe(t: TestContext, env: Record<string, string>): ChildProcess & { logs: string[] } {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/livetag.js'), 'serve'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { logs: string[] };
  child.logs = [];
  const keep = (b: Buffer): void => void child.logs.push(...b.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Reads topics from the beginning into a live array until stopped. read_committed
 * by default, as a downstream consumer of exactly-once output must be.
 */
export async function collector(client: KafkaClient, topics: string[], opts: { readUncommitted?: boolean } = {}) {
  const received: Received[] = [];
  const consumer = client.consumer({ groupId: uniqueName('collector'), readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }: { topic: string; partition: number; message: KafkaMessage }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
      received.push({ topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, value: message.value, headers });
    },
  });
  return {
    received,
    until: (n: number, timeoutMs: number, what: string) => waitUntil(() => received.length >= n, timeoutMs, what),
    stop: () => consumer.disconnect(),
  };
}

/** The group's committed offset per partition of a topic (-1 where none). */
export async function committedOffsets(client: KafkaClient, groupId: string, topic: string): Promise<Map<number, number>> {
  return withAdmin(client, async (admin) => {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(entry.partitions.map((p) => [p.partition, Number(p.offset)]));
  });
}

export type { KafkaClient };
