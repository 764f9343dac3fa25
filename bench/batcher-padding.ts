/**
 * Padding of the micro-batcher's cuts on real live comments (issue 19): the
 * batcher replayed as serve drives it (3 partitions, each classifying chunks
 * of 256 one after another, a run time proportional to the padded tokens),
 * at 2 and 3 batches in flight (one and two sessions), beside the floor of
 * sorting each partition chunk round; then paced light load, where the queue
 * is shallow, with and without splitting it by length.
 *
 *   node --import tsx bench/batcher-padding.ts [--model models/default]
 *
 * Prints padded tokens per text; compare trees by running it on each.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createMicroBatcher } from '../src/consumer/micro-batcher.ts';
import { createBatchCost } from '../src/consumer/batch-cost.ts';
import { createTextEncoder } from '../src/model/tokenizer.ts';
import { REPO_ROOT, liveComments } from './lib/texts.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'models/default' }, count: { type: 'string', default: '9000' } } });
const { texts, source } = liveComments();
const dir = resolve(REPO_ROOT, values.model);
const encoder = createTextEncoder(readFileSync(resolve(dir, 'tokenizer.json'), 'utf8'), 128);
const ids = await encoder.ids(texts.slice(0, Number(values.count)));
const limits = { maxSize: 64, maxWaitMs: 5, maxTokens: 4096 };
const CHUNK = 256;
const PARTITIONS = 3;
const real = ids.reduce((a, r) => a + r.length, 0) / ids.length;

/** Each round's chunks (one per partition) sorted together and cut into batches: what a batcher that saw them all at once could do. */
function sortedFloor(): number {
  const parts = Array.from({ length: PARTITIONS }, (_, k) => ids.filter((_, i) => i % PARTITIONS === k));
  let padded = 0;
  for (let i = 0; i < parts[0].length; i += CHUNK) {
    const round = parts.flatMap((p) => p.slice(i, i + CHUNK).map((r) => r.length)).sort((a, b) => a - b);
    for (let j = 0; j < round.length; j += limits.maxSize) {
      const run = round.slice(j, j + limits.maxSize);
      padded += run.at(-1)! * run.length;
    }
  }
  return padded / ids.length;
}

async function replay(depth: number): Promise<number> {
  let padded = 0;
  let n = 0;
  const batcher = createMicroBatcher(limits, async (rows) => {
    const longest = Math.max(...rows.map((r) => r.length));
    padded += longest * rows.length;
    n += rows.length;
    await new Promise((r) => setTimeout(r, Math.ceil((longest * rows.length) / 400)));
    return rows.map(() => 0);
  }, depth);
  const parts = Array.from({ length: PARTITIONS }, (_, k) => ids.filter((_, i) => i % PARTITIONS === k));
  await Promise.all(parts.map(async (part) => {
    for (let i = 0; i < part.length; i += CHUNK) await Promise.all(part.slice(i, i + CHUNK).map((r) => batcher.submit(r)));
  }));
  await batcher.stop();
  return padded / n;
}

/**
 * Light load: the texts arrive paced (a round every 20 ms, as the suite's load
 * generator sends), one batch in flight per session plus one queued, and a
 * batch takes a + b × padded tokens ms (a, b: the model's, measured in
 * process). With and without the length split of shallow queues
 * (src/consumer/batch-cost.ts, its cost fitted online as serve does).
 */
async function paced(rate: number, count: number, a: number, b: number, split: boolean): Promise<{ padded: number; batch: number; latency: number }> {
  let padded = 0;
  let batches = 0;
  let waited = 0;
  // One session: batches run one after another.
  let lane = Promise.resolve();
  const batcher = createMicroBatcher(limits, async (rows) => {
    const longest = Math.max(...rows.map((r) => r.length));
    padded += longest * rows.length;
    batches++;
    const mine = lane.then(() => new Promise<void>((r) => setTimeout(r, a + b * longest * rows.length)));
    lane = mine;
    await mine;
    return rows.map(() => 0);
  }, 2, split ? createBatchCost() : undefined);
  const start = performance.now();
  const perRound = Math.max(1, Math.round(rate / 50));
  const done: Promise<void>[] = [];
  for (let i = 0; i < count; i += perRound) {
    for (const r of ids.slice(i, Math.min(count, i + perRound))) {
      const t = performance.now();
      done.push(batcher.submit(r).then(() => void (waited += performance.now() - t)));
    }
    const next = start + ((i + perRound) / rate) * 1000 - performance.now();
    if (next > 0) await new Promise((r) => setTimeout(r, next));
  }
  await Promise.all(done);
  await batcher.stop();
  return { padded: padded / count, batch: count / batches, latency: waited / count };
}

process.stdout.write(`${ids.length} texts from ${source}; ${real.toFixed(2)} real tokens per text\n`);
for (const depth of [2, 3]) process.stdout.write(`${depth} in flight: ${(await replay(depth)).toFixed(2)} padded tokens per text\n`);
process.stdout.write(`floor (each round of chunks sorted, then cut): ${sortedFloor().toFixed(2)}\n`);
// a, b: the default model timed in process at a few batch shapes (idle machine, 2 threads). The
// bert-base shape's queue stays shallow in this model of the machine (no broker on the cores);
// its gain is measured with the real service (docs/performance.md).
for (const m of [{ name: 'default model', rate: 2500, count: 5000, a: 0.7, b: 0.0036 }]) {
  for (const split of [false, true]) {
    const r = await paced(m.rate, m.count, m.a, m.b, split);
    process.stdout.write(`paced ${m.rate}/s, ${m.name} cost, ${split ? 'split shallow queues by length' : 'whole shallow queue one batch'}: ${r.padded.toFixed(2)} padded tokens per text, mean batch ${r.batch.toFixed(1)}, mean wait for a result ${r.latency.toFixed(1)} ms\n`);
  }
}
