/**
 * livetag serve through a real broker, side by side in one run with
 * (a) the raw model alone at the same batch size and (b) a naive consumer
 * (per-message inference, padding to the max length): backlog throughput, and
 * end-to-end latency at a paced load of half each one's own maximum.
 *
 *   node --import tsx bench/serve-throughput.ts [--shape small|base] [--messages 20000] [--naive-messages 1500] [--latency-seconds 20]
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/common/logger.ts';
import { loadServeConfig } from '../src/consumer/config.ts';
import { createStreamService } from '../src/consumer/stream-service.ts';
import { createKafka, deleteTopics, ensureTopics, type KafkaClient } from '../src/kafka/kafka-client.ts';
import { createClassifier } from '../src/model/classifier.ts';
import type { ModelShape } from '../src/model/random-bundle.ts';
import { benchBroker } from './lib/broker.ts';
import { benchModel } from './lib/models.ts';
import { startNaiveConsumer } from './lib/naive-consumer.ts';
import { REPO_ROOT, liveComments, percentile } from './lib/texts.ts';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'small' },
    messages: { type: 'string', default: '20000' },
    'naive-messages': { type: 'string', default: '1500' },
    'latency-seconds': { type: 'string', default: '20' },
    'batch-size': { type: 'string', default: '64' },
    threads: { type: 'string', default: '0' },
  },
});
const N = Number(values.messages);
const NAIVE_N = Number(values['naive-messages']);
const LAT_S = Number(values['latency-seconds']);
const BATCH = Number(values['batch-size']);
const threads = Number(values.threads);
const PARTITIONS = 3;

const bundle = await benchModel(values.shape as ModelShape);
const { texts, source } = liveComments();
const broker = await benchBroker();
const client = createKafka({ brokers: broker.brokers, clientId: 'bench', logLevel: 'nothing' });
const run = `${Date.now().toString(36)}`;
const created: string[] = [];

async function topics(name: string): Promise<{ input: string; output: string; dlq: string }> {
  const t = { input: `bench-${name}-in-${run}`, output: `bench-${name}-out-${run}`, dlq: `bench-${name}-dlq-${run}` };
  await ensureTopics(client, Object.values(t).map((topic) => ({ topic, partitions: PARTITIONS })));
  created.push(...Object.values(t));
  return t;
}

/** Produces `count` comments, paced at `rate`/s if given (else as fast as possible). */
async function produce(topic: string, count: number, offset: number, rate?: number): Promise<void> {
  const producer = client.producer();
  await producer.connect();
  const start = Date.now();
  const chunk = rate ? Math.max(1, Math.round(rate / 50)) : 500;
  for (let i = 0; i < count; i += chunk) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      const k = offset + j;
      messages.push({ key: `room-${k % 97}`, value: JSON.stringify({ text: texts[k % texts.length], id: `m${k}` }) });
    }
    await producer.send({ topic, messages });
    if (rate) {
      const due = start + ((i + chunk) / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  await producer.disconnect();
}

/** Collects output arrival times until `count` arrived; returns throughput window and latencies. */
async function collect(kafka: KafkaClient, topic: string, count: number, timeoutMs: number) {
  const latencies: number[] = [];
  let first = 0;
  let last = 0;
  const consumer = kafka.consumer({ groupId: `bench-collect-${topic}`, maxWaitTimeInMs: 5 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const msg = JSON.parse(m.value!.toString('utf8'));
        latencies.push(now - msg.timing.producedAt);
        first ||= now;
        last = now;
      }
      if (latencies.length >= count) done();
    },
  });
  const timer = setTimeout(() => done(), timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return { received: latencies.length, seconds: Math.max(0.001, (last - first) / 1000), latencies };
}

function summary(lat: number[]) {
  const s = [...lat].sort((a, b) => a - b);
  return { p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99) };
}

type ModeResult = { mode: string; messages: number; msgsPerSecond: number; latency?: ReturnType<typeof summary> & { rate: number } };
const results: ModeResult[] = [];

// (a) raw model alone, same batch size, pre-tokenized: the pipeline's ceiling.
{
  const c = await createClassifier({ bundle, worker: false, threads });
  const ids = await c.encoder.ids(texts.slice(0, N));
  const start = performance.now();
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = c.encoder.pad(ids.slice(i, i + BATCH));
    c.decide(await c.infer(batch), batch.batchSize);
  }
  const s = (performance.now() - start) / 1000;
  results.push({ mode: `raw model (batch ${BATCH})`, messages: ids.length, msgsPerSecond: ids.length / s });
  await c.stop();
}

async function runLivetag(name: string, count: number, rate?: number) {
  const t = await topics(name);
  const env = {
    LIVETAG_KAFKA_BROKERS: broker.brokers,
    LIVETAG_INPUT_TOPIC: t.input,
    LIVETAG_OUTPUT_TOPIC: t.output,
    LIVETAG_DLQ_TOPIC: t.dlq,
    LIVETAG_GROUP_ID: `bench-${name}-${run}`,
    LIVETAG_MODEL: bundle,
    LIVETAG_HTTP_PORT: '0',
    LIVETAG_THREADS: String(threads),
    LIVETAG_BATCH_MAX_SIZE: String(BATCH),
    // Measure the model path, not the repeat cache (reported separately).
    LIVETAG_DEDUPE_CACHE_SIZE: '0',
  };
  const svc = createStreamService(loadServeConfig({}, env), createLogger('error'));
  if (!rate) await produce(t.input, count, 0);
  await svc.start();
  const collecting = collect(client, t.output, count, 600_000);
  if (rate) await produce(t.input, count, 0, rate);
  const r = await collecting;
  await svc.stop();
  return r;
}

async function runNaive(name: string, count: number, rate?: number) {
  const t = await topics(name);
  const naive = await startNaiveConsumer({ brokers: broker.brokers, input: t.input, output: t.output, groupId: `bench-${name}-${run}`, bundle, threads });
  if (!rate) await produce(t.input, count, 0);
  const collecting = collect(client, t.output, count, 600_000);
  if (rate) await produce(t.input, count, 0, rate);
  const r = await collecting;
  await naive.stop();
  return r;
}

const live = await runLivetag('livetag', N);
const liveMax = live.received / live.seconds;
const naive = await runNaive('naive', NAIVE_N);
const naiveMax = naive.received / naive.seconds;
const liveRate = Math.round(liveMax / 2);
const naiveRate = Math.max(1, Math.round(naiveMax / 2));
const liveLat = await runLivetag('livetag-paced', liveRate * LAT_S, liveRate);
const naiveLat = await runNaive('naive-paced', naiveRate * LAT_S, naiveRate);
results.push({ mode: 'livetag serve (real broker)', messages: live.received, msgsPerSecond: liveMax, latency: { rate: liveRate, ...summary(liveLat.latencies) } });
results.push({ mode: 'naive consumer (per message, max-length padding)', messages: naive.received, msgsPerSecond: naiveMax, latency: { rate: naiveRate, ...summary(naiveLat.latencies) } });

await deleteTopics(client, created).catch(() => undefined);
await broker.stop();

const raw = results[0].msgsPerSecond;
const ratios = { pipelineOverRaw: liveMax / raw, livetagOverNaive: liveMax / naiveMax };
const out = { bench: 'serve-throughput', shape: values.shape, texts: source, partitions: PARTITIONS, batchSize: BATCH, results, ratios, at: new Date().toISOString() };
writeFileSync(resolve(REPO_ROOT, `bench/results/serve-throughput-${values.shape}.json`), JSON.stringify(out, null, 2) + '\n');
const f = (x: number, d = 1) => x.toFixed(d);
console.log(`model: ${values.shape}; texts: ${source}; ${PARTITIONS} partitions\n`);
console.log('| mode | msgs/s (backlog) | paced at | p50 ms | p95 ms | p99 ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  const l = r.latency;
  console.log(`| ${r.mode} | ${f(r.msgsPerSecond)} | ${l ? `${l.rate}/s` : '-'} | ${l ? f(l.p50, 0) : '-'} | ${l ? f(l.p95, 0) : '-'} | ${l ? f(l.p99, 0) : '-'} |`);
}
console.log(`\npipeline / raw model: ${f(ratios.pipelineOverRaw, 2)}; livetag / naive: ${f(ratios.livetagOverNaive, 1)}×`);
