/**
 * Event-loop delay while a large batch runs (issue 2): onnxruntime-node runs a
 * session synchronously on the calling thread, so inline inference stalls the
 * loop for the whole batch; on the worker thread the loop stays free.
 *
 *   node --import tsx bench/event-loop-delay.ts [--shape small|base] [--batch 64] [--runs 10]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClassifier } from '../src/model/runtime/classifier.ts';
import type { ModelShape } from '../src/model/build/random-bundle.ts';
import { benchModel } from './lib/models.ts';
import { liveComments } from './lib/texts.ts';

const { values } = parseArgs({
  options: { shape: { type: 'string', default: 'small' }, batch: { type: 'string', default: '64' }, runs: { type: 'string', default: '10' } },
});
const bundle = await benchModel(values.shape as ModelShape);
const { texts } = liveComments();
// Long texts make the batch large: 64 × up to 128 tokens.
const long = texts.slice(0, Number(values.batch)).map((t) => t.repeat(12));

console.log(`model ${values.shape}, batch ${values.batch} long texts, ${values.runs} runs each\n`);
console.log('| mode | ms per batch | loop delay p50 ms | p99 ms | max ms |');
console.log('|---|---:|---:|---:|---:|');
for (const worker of [false, true]) {
  const c = await createClassifier({ bundle, worker, threads: 1 });
  const batch = await c.encode(long);
  await c.infer(batch);
  const h = monitorEventLoopDelay({ resolution: 1 });
  // A timer keeps the loop busy with work to be late for, like a consumer's heartbeat.
  const timer = setInterval(() => undefined, 1);
  h.enable();
  const start = performance.now();
  for (let i = 0; i < Number(values.runs); i++) await c.infer(batch);
  const per = (performance.now() - start) / Number(values.runs);
  h.disable();
  clearInterval(timer);
  await c.stop();
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  console.log(`| ${worker ? 'worker thread' : 'inline'} | ${per.toFixed(1)} | ${ms(h.percentile(50))} | ${ms(h.percentile(99))} | ${ms(h.max)} |`);
}
