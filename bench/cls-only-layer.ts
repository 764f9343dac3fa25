/**
 * The last encoder layer on [CLS] alone against the whole layer, side by side:
 *
 *   node --import tsx bench/cls-only-layer.ts [--shapes small,base] [--rounds 5]
 *
 * The classifier reads the last layer at [CLS] only, so the graphs run its
 * query, attention output and feed-forward on that position (keys and values
 * still on every token). For the default small shape and the bert-base shape
 * (random weights: the time does not depend on their values), alternating the
 * two forms round by round in one process: the serving forward of model.onnx
 * and of the int8 variant (the CPU default) at batch 8 and 32 of real live
 * comments, and one training step's graph run (forward and backward, all
 * layers trained, no AdamW) at batch 32 of real tianchi reviews (bert-base at
 * ≤ 64 tokens, as bench/train-engines.ts). Reports the median ms per batch of
 * each form and their ratio. Writes bench/results/cls-only-layer.{json,md}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bertBaseConfig, smallBertConfig, type BertConfig } from '../src/model/bert-config.ts';
import { buildBertOnnx, type BuildOptions } from '../src/model/build/onnx-graph.ts';
import { buildTrainingGraph } from '../src/model/build/training-graph.ts';
import { createGraphSession, type Feed, type GraphSession } from '../src/model/runtime/graph-session.ts';
import { OUTPUT_NAME } from '../src/model/onnx-names.ts';
import { createTextEncoder } from '../src/model/tokenizer.ts';
import { randomWeights, type WeightMap } from '../src/model/weights.ts';
import { LOSS_OUTPUT } from '../src/model/build/training-graph.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../src/training/vocab.ts';
import { liveComments, sharedTokenizer, tianchiReviews } from './lib/texts.ts';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'small,base' },
    rounds: { type: 'string', default: '5' },
  },
});
const ROUNDS = Number(values.rounds);

type Feeds = Record<string, Feed>;

async function batchFeeds(tokenizerJson: string, maxLength: number, texts: readonly string[], size: number, count: number, labels = 0): Promise<Feeds[]> {
  const enc = createTextEncoder(tokenizerJson, maxLength);
  const out: Feeds[] = [];
  for (let i = 0; i < count; i++) {
    // Spread over the corpus: real length mixes, each batch padded to its longest text as serving pads.
    const picked = Array.from({ length: size }, (_, j) => texts[(i * 7919 + j * 104729) % texts.length]);
    const b = await enc.encode(picked);
    const dims = [b.batchSize, b.seqLength];
    const feeds: Feeds = {
      input_ids: { type: 'int64', data: b.inputIds, dims },
      attention_mask: { type: 'int64', data: b.attentionMask, dims },
      token_type_ids: { type: 'int64', data: b.tokenTypeIds, dims },
    };
    if (labels > 0) {
      feeds.labels = { type: 'float32', data: Float32Array.from({ length: size * labels }, (_, k) => (k % 5 === 0 ? 1 : 0)), dims: [size, labels] };
      feeds.pos_weight = { type: 'float32', data: new Float32Array(labels).fill(1), dims: [labels] };
    }
    out.push(feeds);
  }
  return out;
}

interface Form {
  readonly session: GraphSession;
  readonly feeds: readonly Feeds[];
  readonly outputs: readonly string[];
}

async function timeOnce(f: Form): Promise<number> {
  const t0 = performance.now();
  for (const feeds of f.feeds) await f.session.run(feeds, f.outputs);
  return (performance.now() - t0) / f.feeds.length;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Whole layer and [CLS]-only, alternated; median ms per batch of each. */
async function compare(whole: Form, cls: Form): Promise<{ wholeMs: number; clsMs: number; ratio: number }> {
  await timeOnce(whole);
  await timeOnce(cls);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      a.push(await timeOnce(whole));
      b.push(await timeOnce(cls));
    } else {
      b.push(await timeOnce(cls));
      a.push(await timeOnce(whole));
    }
  }
  return { wholeMs: median(a), clsMs: median(b), ratio: median(a) / median(b) };
}

async function servingPair(config: BertConfig, weights: WeightMap, opts: BuildOptions, feeds: Feeds[]) {
  const whole = await createGraphSession(buildBertOnnx(config, weights, { ...opts, wholeLastLayer: true }));
  const cls = await createGraphSession(buildBertOnnx(config, weights, opts));
  try {
    return await compare({ session: whole, feeds, outputs: [OUTPUT_NAME] }, { session: cls, feeds, outputs: [OUTPUT_NAME] });
  } finally {
    await Promise.all([whole.release(), cls.release()]);
  }
}

async function trainingPair(config: BertConfig, weights: WeightMap, feeds: Feeds[]) {
  const graphs = [true, false].map((wholeLastLayer) => buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0, dropout: false, wholeLastLayer }));
  const withWeights = (trainable: readonly string[]): Feeds[] =>
    feeds.map((f) => ({ ...f, ...Object.fromEntries(trainable.map((n) => [n, { type: 'float32' as const, data: weights.get(n)!.data, dims: weights.get(n)!.shape }])) }));
  const [whole, cls] = await Promise.all(graphs.map((g) => createGraphSession(g.bytes)));
  try {
    const form = (s: GraphSession, i: number): Form => ({ session: s, feeds: withWeights(graphs[i].trainable), outputs: [LOSS_OUTPUT, ...graphs[i].gradients.values()] });
    return await compare(form(whole, 0), form(cls, 1));
  } finally {
    await Promise.all([whole.release(), cls.release()]);
  }
}

async function main(): Promise<void> {
  const live = liveComments();
  const rev = tianchiReviews();
  const rows: Array<Record<string, unknown>> = [];
  for (const shape of values.shapes.split(',')) {
    const base = shape === 'base';
    const baseTok = sharedTokenizer();
    const tokenizerJson = base && baseTok ? readFileSync(baseTok, 'utf8') : charVocabTokenizerJson(buildCharVocab([...live.texts, ...rev.texts]));
    const vocab = createTextEncoder(tokenizerJson, 8).vocabSize;
    const config = base ? bertBaseConfig(13, vocab) : smallBertConfig(vocab, 13);
    const weights = randomWeights(config, 1);
    const maxLength = base ? 64 : 128;
    for (const batch of [8, 32]) {
      const feeds = await batchFeeds(tokenizerJson, maxLength, live.texts, batch, base ? (batch === 8 ? 16 : 4) : 40);
      for (const [form, opts] of [['model.onnx', {}], ['int8 variant', { fused: true, precision: 'int8' }]] as const) {
        const r = await servingPair(config, weights, opts, feeds);
        rows.push({ shape, what: `serving forward, ${form}`, batch, ...r });
        process.stderr.write(JSON.stringify(rows.at(-1)) + '\n');
      }
    }
    const trainFeeds = await batchFeeds(tokenizerJson, maxLength, rev.texts, 32, base ? 1 : 10, 13);
    rows.push({ shape, what: 'training step (graph run, all layers)', batch: 32, ...(await trainingPair(config, weights, trainFeeds)) });
    process.stderr.write(JSON.stringify(rows.at(-1)) + '\n');
  }
  const fmt = (v: unknown, d: number) => (typeof v === 'number' ? v.toFixed(d) : String(v));
  const md = [
    `# The last layer on [CLS] alone against the whole layer (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Serving batches: ${live.source}; training batches: ${rev.source}. ${ROUNDS} alternated rounds, medians; onnxruntime's default threads on ${(await import('node:os')).availableParallelism()} cores.`,
    '',
    '| shape | what | batch | whole layer, ms | [CLS] only, ms | whole / [CLS] only |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.shape} | ${r.what} | ${r.batch} | ${fmt(r.wholeMs, 2)} | ${fmt(r.clsMs, 2)} | ${fmt(r.ratio, 2)}× |`),
  ].join('\n');
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cls-only-layer.json'), JSON.stringify({ rounds: ROUNDS, rows }, null, 1) + '\n');
  writeFileSync(join(dir, 'cls-only-layer.md'), md + '\n');
  process.stdout.write(md + '\n');
}

await main();
