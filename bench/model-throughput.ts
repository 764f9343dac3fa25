/**
 * Raw model throughput (issue 2, Must show 5): a bert-base-chinese-shaped model
 * at batch 1/8/32/64 over real live-comment lengths, with the GFLOP/s it
 * achieves beside a plain large matrix product measured in the same run.
 *
 *   node --import tsx bench/model-throughput.ts [--model <bundle>] [--shape base|small] [--seconds 8] [--threads 0]
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { flopsPerSequence } from '../src/model/bert-config.ts';
import { createClassifier } from '../src/model/classifier.ts';
import { measureMatMulGflops } from '../src/model/matmul-probe.ts';
import type { ModelShape } from '../src/model/random-bundle.ts';
import { benchModel } from './lib/models.ts';
import { REPO_ROOT, liveComments } from './lib/texts.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    shape: { type: 'string', default: 'base' },
    seconds: { type: 'string', default: '8' },
    threads: { type: 'string', default: '0' },
    batches: { type: 'string', default: '1,8,32,64' },
  },
});
const seconds = Number(values.seconds);
// Large enough that the product runs at the BLAS kernel's steady rate (1024² still shows start-up overhead).
const MATMUL_N = 2048;
const threads = Number(values.threads);
const bundle = values.model ?? (await benchModel(values.shape as ModelShape));
const { texts, source } = liveComments();
const classifier = await createClassifier({ bundle, worker: false, threads });
const config = classifier.manifest.architecture;

const rows = [];
let cursor = 0;
for (const batchSize of values.batches.split(',').map(Number)) {
  const next = (): string[] => {
    const out: string[] = [];
    for (let i = 0; i < batchSize; i++) out.push(texts[cursor++ % texts.length]);
    return out;
  };
  await classifier.infer(await classifier.encode(next())); // warm-up
  // The ceiling is measured right before and after each row: on a shared,
  // noisy machine only side-by-side ratios mean anything.
  const before = await measureMatMulGflops(MATMUL_N, threads, 2);
  let done = 0;
  let flops = 0;
  let tokens = 0;
  let padded = 0;
  let inferNs = 0n;
  const start = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const batch = await classifier.encode(next());
    const t0 = process.hrtime.bigint();
    const logits = await classifier.infer(batch);
    inferNs += process.hrtime.bigint() - t0;
    classifier.decide(logits, batch.batchSize);
    done += batch.batchSize;
    flops += batch.batchSize * flopsPerSequence(config, batch.seqLength);
    tokens += batch.lengths.reduce((a, b) => a + b, 0);
    padded += batch.batchSize * batch.seqLength;
  }
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const infer = Number(inferNs) / 1e9;
  const after = await measureMatMulGflops(MATMUL_N, threads, 2);
  // The model's own feed-forward GEMM: [batch × mean padded length, hidden] × [hidden, intermediate].
  const gemmM = Math.max(1, Math.round(padded / (done / batchSize)));
  const ffn = await measureMatMulGflops(config.intermediateSize, threads, 2, { m: gemmM, k: config.hiddenSize });
  rows.push({
    matmulGflops: (before + after) / 2,
    ffnGemmGflops: ffn,
    ffnGemmShape: `${gemmM}×${config.hiddenSize}×${config.intermediateSize}`,
    batchSize,
    textsPerSecond: done / wall,
    msPerBatch: (wall / (done / batchSize)) * 1000,
    gflopsModel: flops / infer / 1e9,
    meanTokens: tokens / done,
    paddingShare: 1 - tokens / padded,
  });
}
await classifier.stop();

const result = {
  bench: 'model-throughput',
  model: { bundle, ...config },
  texts: source,
  threads: threads || 'onnxruntime default (one per core)',
  rows: rows.map((r) => ({ ...r, shareOfMatmul: r.gflopsModel / r.matmulGflops, shareOfFfnGemm: r.gflopsModel / r.ffnGemmGflops })),
  at: new Date().toISOString(),
};
writeFileSync(resolve(REPO_ROOT, `bench/results/model-throughput-${values.shape}.json`), JSON.stringify(result, null, 2) + '\n');
const f = (x: number, d = 1): string => x.toFixed(d);
console.log(`model: ${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}; texts: ${source}`);
console.log(`matrix product: plain ${MATMUL_N}×${MATMUL_N} float32 MatMul in the same onnxruntime, measured before and after each row\n`);
console.log('| batch | texts/s | ms/batch | mean tokens | padding | model GFLOP/s | square matmul GFLOP/s | model / matmul | model-shaped GEMM GFLOP/s | model / GEMM |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of result.rows) {
  console.log(`| ${r.batchSize} | ${f(r.textsPerSecond)} | ${f(r.msPerBatch)} | ${f(r.meanTokens)} | ${f(r.paddingShare * 100, 0)}% | ${f(r.gflopsModel)} | ${f(r.matmulGflops)} | ${f(r.shareOfMatmul * 100, 0)}% | ${f(r.ffnGemmGflops)} (${r.ffnGemmShape}) | ${f(r.shareOfFfnGemm * 100, 0)}% |`);
}
