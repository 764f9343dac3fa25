import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/common/logger.ts';
import { loadServeConfig } from '../../src/consumer/config.ts';
import { OutputMessageSchema } from '../../src/consumer/output-record.ts';
import { createStreamService } from '../../src/consumer/stream-service.ts';
import { testKafka, waitUntil } from './helpers/kafka.ts';
import { collector, serveEnv, serveTopics, tinyBundle } from './helpers/serve.ts';

const PHRASES = ['这个多少钱', 'M码还有吗', '什么时候发货', '有优惠券吗', '质量怎么样', '黑色还有货吗', '包邮吗', '主播好漂亮'];
const KAFKA_RECORDS = 4000;
const HTTP_REQUESTS = 400;
const HTTP_CONCURRENCY = 16;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function counter(metrics: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(metrics);
  return m ? Number(m[1]) : 0;
}

test('HTTP and Kafka under load together: requests join the same inference batches, same model, p99 reported', { timeout: 300_000 }, async (t) => {
  const client = testKafka('http-load');
  const topics = await serveTopics(t, client, 4);
  const svc = createStreamService(loadServeConfig({}, serveEnv(topics, await tinyBundle(), { LIVETAG_BATCH_MAX_WAIT_MS: '5', LIVETAG_DEDUPE_CACHE_SIZE: '0' })), createLogger('error'));
  const out = await collector(client, [topics.output]);
  const producer = client.producer();
  await producer.connect();
  try {
    await svc.start();
    await waitUntil(() => svc.ready, 30_000, 'service ready');
    const base = `http://127.0.0.1:${svc.httpPort}`;

    // Kafka: records in steady chunks while the HTTP clients run.
    const feeding = (async () => {
      for (let i = 0; i < KAFKA_RECORDS; i += 100) {
        const messages = Array.from({ length: 100 }, (_, k) => ({ key: `r${(i + k) % 8}`, value: JSON.stringify({ text: `${PHRASES[(i + k) % 8]}${i + k}`, id: `k${i + k}` }) }));
        await producer.send({ topic: topics.input, messages, acks: -1 });
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const httpTags = new Map<string, string[]>();
    const worker = async (): Promise<void> => {
      while (next < HTTP_REQUESTS) {
        const n = next++;
        const texts = Array.from({ length: 1 + (n % 4) }, (_, k) => `${PHRASES[(n + k) % 8]}${n * 10 + k}`);
        const v2 = n % 2 === 0;
        const started = performance.now();
        const res = await fetch(v2 ? `${base}/v2/models/livetag/infer` : `${base}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(v2 ? { inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] } : { texts }),
        });
        const body = (await res.json()) as { outputs?: { data: string[] }[]; results?: { tags: { label: string }[] }[] };
        latencies.push(performance.now() - started);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 200) {
          if (statuses.get(res.status) === 1) t.diagnostic(`first ${res.status}: ${JSON.stringify(body)}`);
          continue;
        }
        const labels = v2 ? body.outputs![0].data.map((d) => JSON.parse(d) as string[]) : body.results!.map((r) => r.tags.map((x) => x.label));
        texts.forEach((text, k) => httpTags.set(text, labels[k]));
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, worker));
    const httpSeconds = (performance.now() - t0) / 1000;
    await feeding;
    await out.until(KAFKA_RECORDS, 120_000, `${KAFKA_RECORDS} tags records`);

    assert.deepEqual([...statuses], [[200, HTTP_REQUESTS]]);
    latencies.sort((a, b) => a - b);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const mixed = counter(metrics, 'livetag_mixed_batches_total');
    const batches = counter(metrics, 'livetag_batch_size_count');
    t.diagnostic(
      `${HTTP_REQUESTS} HTTP requests (${HTTP_CONCURRENCY} clients, ${(HTTP_REQUESTS / httpSeconds).toFixed(0)} req/s) beside ${KAFKA_RECORDS} Kafka records: ` +
        `p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms; ` +
        `${mixed} of ${batches} inference batches held both HTTP and Kafka texts`,
    );
    assert.ok(mixed > 0, 'some inference batches mix HTTP and Kafka texts');
    assert.match(metrics, /livetag_batch_rows_total\{origin="http"\} [1-9]/);
    assert.match(metrics, /livetag_batch_rows_total\{origin="kafka"\} [1-9]/);
    // The batch cost the micro-batcher splits light-load queues by: exported, finite, not negative.
    const overhead = /^livetag_batch_overhead_tokens ([0-9.e+-]+)$/m.exec(metrics);
    assert.ok(overhead && Number(overhead[1]) >= 0 && Number(overhead[1]) <= 1024, `livetag_batch_overhead_tokens: ${overhead?.[1]}`);
    t.diagnostic(`fitted batch overhead: ${Number(overhead[1]).toFixed(1)} padded tokens`);

    // Same model on both paths: a text sent both ways gets the same tags.
    await fetch(`${base}/v1/classify`, { method: 'POST', body: JSON.stringify({ texts: ['这个多少钱0'] }) }).then(async (r) => {
      const kafkaSide = out.received.map((r) => OutputMessageSchema.parse(JSON.parse(r.value!.toString('utf8')))).find((m) => m.text === '这个多少钱0');
      const httpSide = ((await r.json()) as { results: { tags: { label: string }[] }[] }).results[0].tags.map((x) => x.label);
      assert.deepEqual(kafkaSide?.tags.map((x) => x.label), httpSide);
    });
  } finally {
    await producer.disconnect();
    await svc.stop();
    await out.stop();
  }
});
