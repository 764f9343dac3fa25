/**
 * The benchmark suite (issue 7): one command, side by side in one run, for
 * the default small model and a bert-base-chinese-shaped one, on the same
 * ONNX file and the same texts (real live comments when ../shared has them):
 *
 *   raw onnxruntime at each batch size (the pipeline's ceiling), a plain
 *   large matrix product (the machine's GFLOP/s ceiling), the
 *   @huggingface/transformers text-classification pipeline on the same model
 *   files, livetag serve through a real broker (its own process), and a naive
 *   consumer (its own process): msgs/s, p50/p95/p99 end-to-end latency at
 *   25/50/75 % of each one's measured maximum, CPU and RSS; serving variants
 *   (fused, int8, fp16) with speed and agreement; the GPU when there is one.
 *
 *   npm run bench                      # both models, ~15 min on 2 cores
 *   npm run bench -- --models default --quick
 *
 * Writes bench/results/suite.json and bench/results/suite.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { flopsPerSequence } from '../src/model/bert-config.ts';
import { createClassifier } from '../src/model/runtime/classifier.ts';
import { measureMatMulGflops } from '../src/model/runtime/matmul-probe.ts';
import { createOrtRunner } from '../src/model/runtime/onnx-session.ts';
import { planSessions } from '../src/model/runtime/session-plan.ts';
import { optimizeBundle, type VariantReport } from '../src/model/build/variants.ts';
import { exportHfLayout } from './lib/hf-layout.ts';
import { TRAINED_BASE_RECIPE, trainedBaseModel } from './lib/models.ts';
import { plainBertBundle } from './lib/plain-bundle.ts';
import { createServeHarness, PACED_LEAD_MS } from './lib/serve-harness.ts';
import { summarizeShape } from './lib/suite-summary.ts';
import { f, renderMarkdown, type RawRow, type ServeResult, type SuiteOutput } from './lib/suite-report.ts';
import { REPO_ROOT, liveComments } from './lib/texts.ts';

const { values } = parseArgs({
  options: {
    // Re-render suite.md from suite.json (after a renderer change), measuring nothing.
    render: { type: 'boolean', default: false },
    models: { type: 'string', default: 'default,base' },
    quick: { type: 'boolean', default: false },
    threads: { type: 'string', default: '0' },
    // Tuning runs instead of the suite: livetag backlog drains, one per
    // ";"-separated set of LIVETAG_* settings, e.g. "LIVETAG_THREADS=1;LIVETAG_BATCH_MAX_SIZE=128";
    // BENCH_READER_WAIT_MS=N in a set sets the output reader's fetch wait instead.
    tune: { type: 'string' },
    // With --tune: paced input at this many msgs/s (latency) instead of a backlog.
    'tune-rate': { type: 'string' },
  },
});
const quick = values.quick;
const threads = Number(values.threads);
const CACHE = resolve(REPO_ROOT, '.cache/bench');
const PARTITIONS = 3;
const log = (m: string): void => void process.stderr.write(`[suite ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface ModelPlan {
  readonly key: string;
  readonly title: string;
  readonly bundle: () => Promise<string>;
  readonly rawSeconds: number;
  readonly batches: number[];
  readonly backlog: number;
  readonly naiveBacklog: number;
  readonly latencySeconds: number;
}

const PLANS: Record<string, ModelPlan> = {
  default: {
    key: 'default',
    title: "default model (models/default's BERT: 2 layers, hidden 128, trained; its wide n-gram branch left out, as comparisons with other runtimes need)",
    bundle: async () => plainBertBundle(resolve(REPO_ROOT, 'models/default'), resolve(REPO_ROOT, '.cache/models')),
    rawSeconds: quick ? 1 : 3,
    batches: [1, 8, 32, 64, 128],
    backlog: quick ? 5000 : 20000,
    naiveBacklog: quick ? 500 : 2000,
    latencySeconds: quick ? 4 : 10,
  },
  base: {
    key: 'base',
    title: `bert-base-chinese shape (12 layers, hidden 768, real tokenizer; trained from scratch ${TRAINED_BASE_RECIPE.epochs} epochs on ${TRAINED_BASE_RECIPE.generated} generated comments, not for its tags)`,
    bundle: async () => trainedBaseModel(),
    rawSeconds: quick ? 3 : 8,
    batches: [1, 8, 32, 64],
    // 10–25 s at its 85–200 msgs/s: long enough that the main thread's per-message cost is not its JIT warm-up.
    backlog: quick ? 200 : 2000,
    naiveBacklog: quick ? 20 : 60,
    latencySeconds: quick ? 8 : 20,
  },
};

const { texts, source: textSource } = liveComments();
if (values.render) {
  const saved = JSON.parse(readFileSync(resolve(REPO_ROOT, 'bench/results/suite.json'), 'utf8')) as SuiteOutput;
  writeFileSync(resolve(REPO_ROOT, 'bench/results/suite.md'), renderMarkdown(saved));
  process.exit(0);
}

// ---------------------------------------------------------------- model-only parts


/** Pre-tokenized batches in arrival order (or sorted by length within windows of 512: bucketing). */
async function encodeBatches(c: Awaited<ReturnType<typeof createClassifier>>, batch: number, count: number, bucketed = false) {
  const n = Math.min(texts.length, Math.max(batch * count, 512));
  const ids = await c.encoder.ids(texts.slice(0, n));
  if (bucketed) {
    for (let i = 0; i < ids.length; i += 512) {
      const window = ids.slice(i, i + 512).sort((a, b) => a.length - b.length);
      ids.splice(i, window.length, ...window);
    }
  }
  const out = [];
  for (let i = 0; i + batch <= ids.length && out.length < count; i += batch) out.push(c.encoder.pad(ids.slice(i, i + batch)));
  return out;
}

/**
 * The model alone, batch after batch. With `sessions` > 1 it runs as serve's
 * default does, on that many worker sessions splitting the threads, with one
 * batch per session in flight.
 */
async function rawRate(bundle: string, variant: string, batch: number, seconds: number, opts: { bucketed?: boolean; threads?: number; device?: 'cpu' | 'cuda'; sessions?: number } = {}): Promise<RawRow & { provider: string }> {
  const sessions = opts.sessions ?? 1;
  const c = await createClassifier({ bundle, worker: sessions > 1, sessions, threads: opts.threads ?? threads, variant, device: opts.device ?? 'cpu', warn: () => undefined });
  try {
    const batches = await encodeBatches(c, batch, batch === 1 ? 256 : 48, opts.bucketed);
    const config = c.manifest.architecture;
    await Promise.all(Array.from({ length: sessions }, () => c.infer(batches[0])));
    let done = 0;
    let flops = 0;
    let tokens = 0;
    let padded = 0;
    let inferSeconds = 0;
    let k = 0;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    await Promise.all(Array.from({ length: sessions }, async () => {
      while (performance.now() - start < seconds * 1000 || k < 2) {
        const b = batches[k++ % batches.length];
        const t0 = performance.now();
        c.decide(await c.infer(b), b.batchSize);
        inferSeconds += (performance.now() - t0) / 1000;
        done += b.batchSize;
        flops += b.batchSize * flopsPerSequence(config, b.seqLength);
        tokens += b.lengths.reduce((x, y) => x + y, 0);
        padded += b.batchSize * b.seqLength;
      }
    }));
    const wall = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSecondsPer1000 = ((cpu.user + cpu.system) / 1e6 / done) * 1000;
    // Sessions overlap: their summed batch times over-count the time the machine spent.
    const gflops = flops / (sessions > 1 ? wall : inferSeconds) / 1e9;
    return { batch, textsPerSecond: done / wall, gflops, meanTokens: tokens / done, paddingShare: 1 - tokens / padded, cpuSecondsPer1000, sessions, provider: c.provider };
  } finally {
    await c.stop();
  }
}

/** transformers.js text-classification pipeline on the same files; also checks it computes the same scores. */
async function transformersJs(bundle: string, batch: number, seconds: number) {
  const { pipeline, env } = await import('@huggingface/transformers');
  const hfDir = join(CACHE, 'hf', basename(bundle));
  exportHfLayout(bundle, hfDir);
  env.allowRemoteModels = false;
  env.localModelPath = dirname(hfDir) + '/';
  const clf = await pipeline('text-classification', basename(hfDir), { dtype: 'fp32', device: 'cpu' });
  const ours = await createClassifier({ bundle, worker: false, threads, variant: 'base' });
  try {
    // Same model and tokenization: the label probabilities must agree.
    const probe = texts.slice(0, 32);
    const theirs = (await clf(probe, { top_k: null })) as unknown as { label: string; score: number }[][];
    const mine = await ours.classify(probe, { allScores: true });
    let worst = 0;
    theirs.forEach((row, i) => row.forEach((s) => (worst = Math.max(worst, Math.abs(s.score - mine[i].scores![s.label])))));
    const rate = async (fn: (t: string[]) => Promise<unknown>, size: number): Promise<number> => {
      await fn(texts.slice(0, size));
      let n = 0;
      let k = 0;
      const start = performance.now();
      while (performance.now() - start < seconds * 1000 || k < 2) {
        const at = (k++ * size) % (texts.length - size);
        await fn(texts.slice(at, at + size));
        n += size;
      }
      return n / ((performance.now() - start) / 1000);
    };
    const tjs = (t: string[]) => clf(t, { top_k: null });
    const lt = (t: string[]) => ours.classify(t);
    // Three alternating rounds, medians: the two run the same graph, so only noise separates them at large batches.
    const rows = [];
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    for (const size of [...new Set([1, batch])]) {
      const t: number[] = [];
      const l: number[] = [];
      for (let round = 0; round < 3; round++) {
        t.push(await rate(tjs, size));
        l.push(await rate(lt, size));
      }
      rows.push({ batch: size, transformersJs: median(t), livetagClassifier: median(l) });
    }
    return { maxAbsProbDiff: worst, rows };
  } finally {
    await ours.stop();
    await clf.dispose();
  }
}

async function gpuProbe(): Promise<{ available: boolean; reason: string }> {
  const { buildBertOnnx } = await import('../src/model/build/onnx-graph.ts');
  const { parseBertConfig } = await import('../src/model/bert-config.ts');
  const { randomWeights } = await import('../src/model/weights.ts');
  const config = parseBertConfig({ vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
  let reason = '';
  const r = await createOrtRunner(buildBertOnnx(config, randomWeights(config, 1)), { device: 'cuda', warn: (m) => (reason = m) });
  await r.release();
  return r.provider === 'cuda' ? { available: true, reason: 'CUDA execution provider loaded' } : { available: false, reason: reason.replace(/^livetag: /, '') };
}

// ---------------------------------------------------------------- through the broker

const harness = await createServeHarness({ texts, partitions: PARTITIONS, threads, log });
const { serveRun, loadLadder, warmPaced } = harness;

// ---------------------------------------------------------------- the run

const startedAt = new Date();
const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadavg()[0] };
log(`texts: ${textSource}; ${machine.cores} cores (${machine.cpu}); broker ${harness.brokers}`);
const gpu = await gpuProbe();
log(`GPU: ${gpu.reason}`);
const results: Record<string, unknown>[] = [];

try {
  for (const key of values.models.split(',')) {
    const plan = PLANS[key];
    if (!plan) throw new Error(`unknown model ${key} (default, base)`);
    const source = await plan.bundle();
    if (values.tune !== undefined) {
      for (const set of values.tune.split(';')) {
        const { BENCH_READER_WAIT_MS: readerWait, ...env } = Object.fromEntries(set.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]));
        const rate = values['tune-rate'] ? Number(values['tune-rate']) : undefined;
        const count = rate ? Math.round(rate * (plan.latencySeconds + PACED_LEAD_MS / 1000)) : plan.backlog;
        const r = await serveRun('livetag', source, count, { rate, env: { LIVETAG_MODEL_VARIANT: 'base', ...env }, ...(readerWait ? { readerMaxWaitMs: Number(readerWait) } : {}) });
        if (r.latency) {
          const part = (q?: { p50: number; p99: number }) => `${f(q?.p50, 0)}/${f(q?.p99, 0)}`;
          const sp = r.latencySplit!;
          process.stdout.write(
            `${key} ${set || '(defaults)'} paced at ${rate}/s: p50 ${f(r.latency.p50, 0)} p95 ${f(r.latency.p95, 0)} p99 ${f(r.latency.p99, 0)} ms; p99 by tenth of the run ${r.latencyByTenth!.map((x) => f(x, 0)).join(' ')}; ` +
              `p50/p99 up to classified ${part(sp.beforeClassified)}, after ${part(sp.afterClassified)}; record → fetched ${part(sp.toFetched)}, fetched → classified ${part(sp.fetchedToClassified)}\n`,
          );
        }
        const m = r.model!;
        process.stdout.write(
          `${key} ${set || '(defaults)'}: ${f(r.msgsPerSecond)} msgs/s (${r.received}/${r.expected}); livetag ${f(r.usage.cores, 2)} cores, broker ${f(r.usage.brokerCores, 2)}, reader ${f(r.usage.benchCores, 2)}; ` +
            `inference busy ${f((m.inferenceSeconds / (r.received / r.msgsPerSecond)) * 100, 0)}% of the drain, mean batch ${f(m.texts / m.batches)}, ${f(m.paddedTokens / m.texts)} padded tokens/text, fitted batch overhead ${f(m.overheadTokens ?? NaN, 0)} tokens; ` +
            `CPU µs/msg ${f((r.usage.cpuSeconds / r.received) * 1e6, 0)} (${Object.entries(r.usage.threads ?? {}).map(([t, s]) => `${t} ${f((s / r.received) * 1e6, 0)}`).join(', ')})\n`,
        );
      }
      continue;
    }
    log(`${plan.title}: optimizing into serving variants`);
    const optimized = join(CACHE, `${key}-optimized`);
    const opt = await optimizeBundle(source, optimized, { texts: texts.slice(0, key === 'base' ? 512 : 4000), textsSource: textSource, threads, seconds: quick ? 1 : 3, batchSize: 32 });
    // Every row below runs this bundle: the source's weights as this livetag writes them (optimize rewrites
    // an older writer's model.onnx), its variants beside.
    const bundle = optimized;
    const config = opt.manifest.architecture;

    log('matrix product ceiling');
    const matmulBefore = await measureMatMulGflops(2048, threads, 2);
    log('raw onnxruntime, batch sweep');
    const raw: RawRow[] = [];
    for (const batch of plan.batches) raw.push(await rawRate(bundle, 'base', batch, plan.rawSeconds));
    const best = raw.reduce((a, b) => (b.textsPerSecond > a.textsPerSecond ? b : a));
    const matmulAfter = await measureMatMulGflops(2048, threads, 2);
    const matmul = (matmulBefore + matmulAfter) / 2;
    const gemmM = Math.round(best.batch * best.meanTokens / (1 - best.paddingShare));
    const ffnGemm = await measureMatMulGflops(config.intermediateSize, threads, 2, { m: gemmM, k: config.hiddenSize });
    log('tuning: bucketing, threads, variants at the best batch');
    const bucketed = await rawRate(bundle, 'base', best.batch, plan.rawSeconds, { bucketed: true });
    const oneThread = await rawRate(bundle, 'base', best.batch, plan.rawSeconds, { threads: 1 });
    const twoSessions = await rawRate(bundle, 'base', best.batch, plan.rawSeconds, { sessions: 2 });
    const variantRows = [];
    for (const r of opt.reports) {
      const row = await rawRate(bundle, r.name, best.batch, plan.rawSeconds);
      variantRows.push({ name: r.name, precision: r.variant.precision, textsPerSecond: row.textsPerSecond, sameTags: r.variant.agreement.sameTags, maxAbsProbDiff: r.variant.agreement.maxAbsProbDiff, megabytes: r.bytes / 1e6, accepted: r.accepted, optimizeSpeedup: r.variant.speedup?.ratio });
    }
    const gpuRows = [];
    if (gpu.available) {
      for (const variant of ['base', 'fused', 'fp16']) {
        for (const batch of plan.batches) gpuRows.push({ variant, ...(await rawRate(bundle, variant, batch, plan.rawSeconds, { device: 'cuda' })) });
      }
    }
    log('transformers.js pipeline vs livetag classifier, in process');
    const tjs = await transformersJs(bundle, best.batch, plan.rawSeconds);

    log(`livetag serve, backlog of ${plan.backlog} (after a warm-up drain: the broker's JIT compiles its hot paths)`);
    await serveRun('livetag', bundle, Math.min(plan.backlog, 2000), { env: { LIVETAG_MODEL_VARIANT: 'base' } });
    // The ceiling is measured again right before and after the serve runs: on a shared, noisy machine only
    // neighbours compare. Each time the better of one session and two (serve's default on CPU) counts.
    const rawBest = async (): Promise<RawRow> => {
      const rows = [await rawRate(bundle, 'base', best.batch, plan.rawSeconds), await rawRate(bundle, 'base', best.batch, plan.rawSeconds, { sessions: 2 })];
      return rows.reduce((a, b) => (b.textsPerSecond > a.textsPerSecond ? b : a));
    };
    const rawBefore = await rawBest();
    const livetag = await serveRun('livetag', bundle, plan.backlog, { env: { LIVETAG_MODEL_VARIANT: 'base' } });
    log('livetag serve with nothing to read, 15 s: the per-second floor its messages carry');
    const idle = await harness.idleRun(bundle, 15, { env: { LIVETAG_MODEL_VARIANT: 'base' } });
    const livetagNoSpin = await serveRun('livetag', bundle, plan.backlog, { env: { LIVETAG_MODEL_VARIANT: 'base', LIVETAG_ORT_SPINNING: 'false' } });
    const livetagAuto = await serveRun('livetag', bundle, plan.backlog, { env: { LIVETAG_MODEL_VARIANT: 'auto' } });
    const livetagOneThread = await serveRun('livetag', bundle, plan.backlog, { env: { LIVETAG_MODEL_VARIANT: 'base', LIVETAG_THREADS: '1' } });
    // The rows above run serve's default sessions (auto, by the model's size); this one the count auto did not choose.
    const auto = planSessions('auto', config, { threads });
    const sessions = { auto: auto.sessions, reason: auto.reason, other: auto.sessions > 1 ? 1 : 2 };
    const livetagOtherSessions = await serveRun('livetag', bundle, plan.backlog, { env: { LIVETAG_MODEL_VARIANT: 'base', LIVETAG_SESSIONS: String(sessions.other) } });
    const rawAfter = await rawBest();
    const rawBeside = (rawBefore.textsPerSecond + rawAfter.textsPerSecond) / 2;
    // The latency ladder measures a broker past its JIT warm-up (warmPaced); the warm-up runs are recorded beside it.
    const ladderWarmup = await warmPaced('livetag', bundle, Math.round(livetag.msgsPerSecond * 0.5), Math.max(plan.latencySeconds, 10), quick ? 4 : 6, { LIVETAG_MODEL_VARIANT: 'base' });
    const ladder = await loadLadder('livetag', bundle, livetag.msgsPerSecond, plan.latencySeconds, { LIVETAG_MODEL_VARIANT: 'base' });
    log(`naive consumer, backlog of ${plan.naiveBacklog}`);
    const naive = await serveRun('naive', bundle, plan.naiveBacklog);
    const naiveLadder = await loadLadder('naive', bundle, naive.msgsPerSecond, plan.latencySeconds, undefined, [0.25, 0.5, 0.75]);
    let dedupe: ServeResult | undefined;
    if (key === 'default') {
      log('livetag with the duplicate cache on, real comments once each in their order');
      const n = Math.min(texts.length, plan.backlog);
      const on = await serveRun('livetag', bundle, n, { unique: true, env: { LIVETAG_MODEL_VARIANT: 'base', LIVETAG_DEDUPE_CACHE_SIZE: '10000' } });
      const off = await serveRun('livetag', bundle, n, { unique: true, env: { LIVETAG_MODEL_VARIANT: 'base' } });
      dedupe = on;
      results.push({ key: `${key}-dedupe`, on, off });
    }

    const tjsBest = tjs.rows.reduce((a, b) => (b.transformersJs > a.transformersJs ? b : a));
    const ratios = {
      pipelineOverRaw: livetag.msgsPerSecond / rawBeside,
      pipelineOverRawSweep: livetag.msgsPerSecond / best.textsPerSecond,
      pipelineOverRawNoSpin: livetagNoSpin.msgsPerSecond / rawBeside,
      pipelineOverRawOneThread: livetagOneThread.msgsPerSecond / rawBeside,
      pipelineOverRawOtherSessions: livetagOtherSessions.msgsPerSecond / rawBeside,
      pipelineAutoOverRaw: livetagAuto.msgsPerSecond / rawBeside,
      livetagOverNaive: livetag.msgsPerSecond / naive.msgsPerSecond,
      livetagServeOverTransformersJs: livetag.msgsPerSecond / tjsBest.transformersJs,
      livetagClassifierOverTransformersJs: tjs.rows.map((r) => ({ batch: r.batch, ratio: r.livetagClassifier / r.transformersJs })),
      modelGflopsOverMatmul: best.gflops / matmul,
      modelGflopsOverModelShapedGemm: best.gflops / ffnGemm,
    };
    results.push({ key, title: plan.title, bundle: source, baseMegabytes: opt.manifest.files['model.onnx'].bytes / 1e6, architecture: config, serving: opt.serving, raw, best: best.batch, matmul: { square2048: matmul, modelShapedGemm: ffnGemm, gemmShape: `${gemmM}×${config.hiddenSize}×${config.intermediateSize}` }, bucketed, oneThread, twoSessions, variants: variantRows, gpu: gpuRows, transformersJs: tjs, rawBeside: { before: rawBefore, after: rawAfter, mean: rawBeside }, livetag, idle: { threadsCpuSecondsPerSecond: idle }, livetagNoSpin, livetagAuto, livetagOneThread, sessions, livetagOtherSessions, ladderWarmup, ladder, naive, naiveLadder, ratios, ...(dedupe ? { dedupe } : {}) });
    log(`${key}: pipeline/raw ${f(ratios.pipelineOverRaw, 2)}, livetag/naive ${f(ratios.livetagOverNaive, 1)}×, livetag/transformers.js ${f(ratios.livetagServeOverTransformersJs, 2)}`);
    writeResults(false);
  }
} finally {
  await harness.stop();
}

/** After each model, so a long run that dies late keeps what it measured. */
function writeResults(final: boolean): void {
  if (values.tune !== undefined) return;
  const run = { quick, threads, partitions: PARTITIONS, loadAverageAtStart: machine.loadAverageAtStart };
  const shapes = results.filter((r) => r.key === 'default' || r.key === 'base');
  const summary = Object.fromEntries(shapes.map((r) => [r.key, summarizeShape(r as unknown as Parameters<typeof summarizeShape>[0], run)]));
  const out = { summary, bench: 'suite', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), complete: final, quick, machine, texts: textSource, partitions: PARTITIONS, gpu, results };
  writeFileSync(resolve(REPO_ROOT, 'bench/results/suite.json'), JSON.stringify(out, null, 2) + '\n');
  const md = renderMarkdown(out);
  writeFileSync(resolve(REPO_ROOT, 'bench/results/suite.md'), md);
  if (final) process.stdout.write(md);
}
writeResults(true);

