/**
 * One chaos run: `livetag serve` processes (real CLI, child processes) on a
 * broker of the test's own, a steady stream of input, one fault injected
 * mid-stream, and the count of what came out. Every output record names its
 * source partition and offset, so "lost" is an input offset with no output
 * and "duplicate" is a second output for the same input offset, whatever the
 * input producer retried and however often the reader re-read. The reader is
 * read_committed, as a downstream consumer of exactly-once output must be.
 */
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { LocalBroker } from '../../../src/dev/local-broker.ts';
import type { KafkaClientName } from '../../../src/kafka/port.ts';
import { withAdmin } from '../../helpers/kafkajs.ts';
import { testKafka, uniqueName, waitUntil } from '../helpers/kafka.ts';
import { collector, committedOffsets, exited, serveEnv, serveTopics, spawnServe, tinyBundle } from '../helpers/serve.ts';

export type Fault = 'broker-sigkill' | 'broker-down-30s' | 'instance-joins' | 'instance-sigkill';
export type Delivery = 'at-least-once' | 'exactly-once';

export interface ChaosResult {
  readonly input: number;
  readonly tagged: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly seconds: number;
  readonly faultAt: number;
  /** The instances' "batch failed" log lines (each a chunk redelivered), and their rebalance notes (info level: seen with LIVETAG_CHAOS_LOG_LEVEL=info). */
  readonly batchFailures: number;
  readonly rebalanceNotes: number;
  /** Instances that were still held open after a clean stop and ended by the service's linger timeout (serve.ts LINGER_MS). */
  readonly lingered: number;
}

const PARTITIONS = 4;
/** Uncommitted records an instance may hold (LIVETAG_MAX_IN_FLIGHT): the bound of at-least-once duplicates per fault. */
export const MAX_IN_FLIGHT = 512;
const BATCH = 100;
const BATCHES = 30;
const BATCH_EVERY_MS = 400;

/** The test's own timeout (chaos.test.ts); the run gives up early enough to say why. */
export const CHAOS_TIMEOUT_MS = 240_000;
/** Left for the diagnostics and the instances' shutdown after the last wait gives up. */
const REPORT_MARGIN_MS = 20_000;
/** How long one input batch may keep failing (the broker is back within seconds) before the run fails with the last error. */
const SEND_GIVE_UP_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Input written in batches at a steady pace; a failed send (broker gone) is retried until it lands, or fails the run with its last error. */
async function steadyInput(kafka: ReturnType<typeof testKafka>, topic: string, onBatch: (i: number) => Promise<void>): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let b = 0; b < BATCHES; b++) {
      const messages = Array.from({ length: BATCH }, (_, i) => ({ key: `room-${(b * BATCH + i) % 13}`, value: JSON.stringify({ id: `c${b * BATCH + i}`, text: `how much is item ${b * BATCH + i}` }) }));
      const giveUp = Date.now() + SEND_GIVE_UP_MS;
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send({ topic, messages });
          break;
        } catch (err) {
          if (Date.now() > giveUp) throw new Error(`input batch ${b} still not written after ${attempt} attempts: ${(err as Error).message}`);
          await sleep(500);
        }
      }
      await onBatch(b);
      await sleep(BATCH_EVERY_MS);
    }
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

async function inputEnds(kafka: ReturnType<typeof testKafka>, topic: string): Promise<Map<number, number>> {
  return withAdmin(kafka, async (admin) => new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)])));
}

function count(received: ReadonlyArray<{ partition: number; offset: string; value: Buffer | null }>, ends: Map<number, number>) {
  const outputs = new Map<string, string>(); // output partition/offset -> source partition/offset (a re-read is the same output)
  for (const r of received) {
    const source = (JSON.parse(r.value!.toString('utf8')) as { source: { partition: number; offset: string } }).source;
    outputs.set(`${r.partition}/${r.offset}`, `${source.partition}/${source.offset}`);
  }
  const perSource = new Map<string, number>();
  for (const s of outputs.values()) perSource.set(s, (perSource.get(s) ?? 0) + 1);
  let input = 0;
  let lost = 0;
  for (const [p, end] of ends) {
    input += end;
    for (let o = 0; o < end; o++) if (!perSource.has(`${p}/${o}`)) lost++;
  }
  const duplicates = [...perSource.values()].reduce((n, c) => n + c - 1, 0);
  return { input, tagged: perSource.size, lost, duplicates };
}

/**
 * The previous test may have just restarted this broker: for a few seconds it
 * answers metadata requests for new topics with UNKNOWN_TOPIC_OR_PARTITION.
 */
async function settledTopics(t: TestContext, kafka: ReturnType<typeof testKafka>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await serveTopics(t, kafka, PARTITIONS);
    } catch (err) {
      if (attempt >= 4) throw err;
      t.diagnostic(`topics not created yet (${(err as Error).message}); retrying`);
      await sleep(3_000);
    }
  }
}

/** librdkafka's reconnect chatter, which otherwise fills the whole tail of a stalled instance's log. */
const RECONNECT_NOISE = /Connect to \S+ failed|broker transport failure|all broker connections are down/;

/** What a stalled instance said last, without the reconnect chatter, then its very last lines as written. */
function stallTail(logs: readonly string[]): string {
  return [...logs.filter((l) => !RECONNECT_NOISE.test(l)).slice(-30), '(last lines as written:)', ...logs.slice(-5)].join('\n');
}

/** Whether an instance still runs; a service that died without a word (a native crash) looks like a stall otherwise. */
function state(c: ChildProcess): string {
  if (c.signalCode !== null) return `killed by ${c.signalCode}`;
  if (c.exitCode !== null) return `exited with code ${c.exitCode}`;
  return 'still running';
}

export async function runChaos(t: TestContext, broker: LocalBroker, fault: Fault, delivery: Delivery, adapter: KafkaClientName): Promise<ChaosResult> {
  const t0 = Date.now();
  // Where the time went: a run cut off by the test's timeout says nothing otherwise.
  const phases: string[] = [];
  const phase = (name: string): void => void phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const kafka = testKafka(`chaos-${fault}`, broker.brokers);
  const instances: ChildProcess[] = [];
  let topics: Awaited<ReturnType<typeof settledTopics>> | undefined;
  let ends: Map<number, number> | undefined;
  let received: ReadonlyArray<Parameters<typeof count>[0][number]> = [];
  const report = async (): Promise<void> => {
    const c = ends && count(received, ends);
    const total = ends && [...ends.values()].reduce((a, b) => a + b, 0);
    // Which side stalled: the service (its group's commits behind the input) or the reader.
    const committed = topics ? await Promise.race([committedOffsets(kafka, topics.group, topics.input).then((m) => JSON.stringify([...m]), (e: unknown) => String(e)), sleep(10_000).then(() => 'no answer in 10 s')]) : 'no topics yet';
    t.diagnostic(`phases: ${phases.join(', ')}; ${c ? `tagged ${c.tagged} of ${total} (${c.lost} lost so far, ${c.duplicates} duplicates); input ends ${JSON.stringify([...ends!])}` : `${received.length} outputs, input not finished`}, service committed ${committed}; instance logs:\n${instances.map((c, i) => `#${i} (${state(c)}): ${stallTail((c as ChildProcess & { logs: string[] }).logs)}`).join('\n')}`);
  };
  let timer: NodeJS.Timeout | undefined;
  const cutOff = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run still going ${(CHAOS_TIMEOUT_MS - REPORT_MARGIN_MS) / 1000} s in, after: ${phases.at(-1) ?? 'nothing'}`)), CHAOS_TIMEOUT_MS - REPORT_MARGIN_MS);
  });
  try {
    return await Promise.race([chaosRun(), cutOff]);
  } catch (err) {
    await report().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }

  async function chaosRun(): Promise<ChaosResult> {
    topics = await settledTopics(t, kafka);
    const base = serveEnv(topics, await tinyBundle(), { LIVETAG_KAFKA_BROKERS: broker.brokers, LIVETAG_KAFKA_CLIENT: adapter, LIVETAG_DELIVERY: delivery, LIVETAG_LOG_LEVEL: process.env.LIVETAG_CHAOS_LOG_LEVEL ?? 'warn', LIVETAG_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) });
    phase('topics and bundle ready');
    // Each instance its own transactional id, as each pod has its own name.
    const instance = () => spawnServe(t, { ...base, LIVETAG_TRANSACTIONAL_ID: uniqueName('chaos-txn') });
    instances.push(instance());
    if (fault === 'instance-sigkill') instances.push(instance());
    const out = await collector(kafka, [topics.output]);
    received = out.received;
    t.after(() => out.stop().catch(() => undefined));

    let faultAt = 0;
    let faulted: Promise<void> = Promise.resolve();
    const inject = async (): Promise<void> => {
      faultAt = (Date.now() - t0) / 1000;
      phase(`fault ${fault}`);
      if (fault === 'broker-sigkill') {
        await broker.kill();
        await broker.start();
      } else if (fault === 'broker-down-30s') {
        await broker.stop();
        await sleep(30_000);
        await broker.start();
      } else if (fault === 'instance-joins') {
        instances.push(instance());
      } else {
        instances[0]!.kill('SIGKILL');
      }
      phase('fault injected');
    };
    await steadyInput(kafka, topics.input, async (b) => {
      // A third of the stream in, and output flowing: the fault lands mid-stream.
      if (b === Math.floor(BATCHES / 3)) {
        await waitUntil(() => out.received.length > 0, 60_000, 'first output before the fault');
        phase('first output');
        faulted = inject();
        if (fault.startsWith('broker')) await faulted;
      }
    });
    await faulted;
    phase('input written');
    ends = await inputEnds(kafka, topics.input);
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    // Bounded by what the test's timeout leaves, so a stall is reported rather than cut off.
    const budget = Math.min(150_000, CHAOS_TIMEOUT_MS - REPORT_MARGIN_MS - (Date.now() - t0));
    await waitUntil(() => out.received.length >= total && count(out.received, ends!).tagged >= total, budget, `all ${total} input records tagged`);
    phase('all tagged');
    // Late duplicates (a redelivery still in flight) get a moment to show.
    await sleep(3_000);
    for (const c of instances) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await exited(c);
    }
    const logs = instances.flatMap((c) => (c as ChildProcess & { logs: string[] }).logs);
    const lines = (text: string): number => logs.filter((l) => l.includes(text)).length;
    const result = { ...count(out.received, ends), seconds: (Date.now() - t0) / 1000, faultAt, batchFailures: lines('batch failed'), rebalanceNotes: lines('this batch stops here'), lingered: lines('still running after stop') };
    // A failed run is rare and timing-bound: what the instances warned about is the only trace of why.
    if (result.lost > 0 || (delivery === 'exactly-once' && result.duplicates > 0)) await report().catch(() => undefined);
    return result;
  }
}
