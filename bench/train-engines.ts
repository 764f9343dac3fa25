/**
 * Training engines side by side, one command:
 *
 *   node --import tsx bench/train-engines.ts [--shapes small,base] [--steps N] [--base-steps N]
 *
 * For the default small shape and the bert-base shape (all 12 layers
 * trained), on real tianchi review texts (../shared; a synthetic stand-in of
 * the same lengths without it), batch 32 in the trainer's length-bucketed
 * batches: samples/s of the onnxruntime engine and of tfjs-wasm, the training
 * step's time over the serving graph's forward on the same batches, where a
 * step's time goes, model GFLOP/s against a 2048² MatMul through the same
 * onnxruntime, and each engine's peak RSS. Each engine runs in its own process
 * (RSS is its own).
 * Writes bench/results/train-engines-latest.json and .md; bench/results/train-engines.md
 * is the history of runs, each pasted there with what it showed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { flopsPerSequence } from '../src/model/bert-config.ts';
import { buildBertOnnx } from '../src/model/build/onnx-graph.ts';
import { buildTrainingGraph } from '../src/model/build/training-graph.ts';
import { OUTPUT_NAME } from '../src/model/onnx-names.ts';
import { createGraphSession, TRAINING_SESSION } from '../src/model/runtime/graph-session.ts';
import { measureMatMulGflops } from '../src/model/runtime/matmul-probe.ts';
import { shuffledBatches } from '../src/training/features.ts';
import { engineOptionsFor } from '../src/training/trainer.ts';
import { createArrayAdamW } from '../src/training/adamw-arrays.ts';
import { createEngine } from '../src/training/engines.ts';
import { inputFeeds } from '../src/training/ort-engine.ts';
import { tianchiReviews } from './lib/texts.ts';
import { trainShape } from './lib/train-shape.ts';

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    shape: { type: 'string' },
    shapes: { type: 'string', default: 'small,base' },
    steps: { type: 'string', default: '20' },
    'base-steps': { type: 'string', default: '4' },
    batch: { type: 'string', default: '32' },
    shared: { type: 'string', default: join(import.meta.dirname, '../../shared') },
  },
});
const BATCH = Number(values.batch);
if (!Number.isInteger(BATCH) || BATCH < 1) throw new Error(`--batch: a whole number ≥ 1, not ${values.batch}`);

const texts = (): { texts: string[]; source: string } => tianchiReviews(values.shared);

/** One engine on one shape, in this process: prints a JSON line. */
async function child(engineName: string, shape: string, steps: number): Promise<void> {
  const { config, weights, features, rows, targets, recipe } = await trainShape(shape === 'base' ? 'base' : 'small', values.shared, BATCH);
  const engine = await createEngine(engineName === 'onnxruntime' ? 'onnxruntime' : 'wasm', engineOptionsFor({ config, weights, frozenLayers: 0, features, recipe, targets, trainRows: rows }, { device: engineName === 'onnxruntime' ? 'cpu' : undefined, log: () => {} }));
  const batches = shuffledBatches(rows, features.lengths, BATCH, 7).slice(0, steps + 2);
  const flat = (b: number[]) => Float32Array.from(b.flatMap((r) => [...targets[r]]));
  const measured = batches.slice(2);
  // Warm-up over every batch to be timed: onnxruntime plans each new input shape on its first run
  // (a first batch of a length costs ~2× the next), and a training job meets its shapes every
  // epoch. The forwards below are warmed the same way, so neither side pays a first run.
  for (const b of batches) await engine.step(b, flat(b), 1e-5, 0);
  const tokens = measured.reduce((s, b) => s + b.length * Math.max(...b.map((r) => features.lengths[r])), 0) / measured.reduce((s, b) => s + b.length, 0);
  const phases = { inputs: 0, graph: 0, gather: 0, update: 0 };
  const t0 = performance.now();
  for (const b of measured) {
    const r = await engine.step(b, flat(b), 1e-5, 0);
    for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k] += r.phases?.[k] ?? NaN;
  }
  const stepSeconds = (performance.now() - t0) / 1000;
  const samples = measured.reduce((s, b) => s + b.length, 0);
  // The engine's own peak, before this bench opens a serving session beside it.
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  // The issue's memory bound is for full batches at the longest length (bert-base: 32 × 64): one step
  // on the 32 longest rows, twice, as a job meets a length again in the next epoch.
  const longest = [...rows].sort((a, b) => features.lengths[b] - features.lengths[a]).slice(0, BATCH);
  for (let i = 0; i < 2; i++) await engine.step(longest, flat(longest), 1e-5, 0);
  const longestRssMiB = process.resourceUsage().maxRSS / 1024;
  const longestTokens = Math.max(...longest.map((r) => features.lengths[r]));
  let forwardSeconds: number | undefined;
  let ownForwardSeconds: number | undefined;
  if (engineName === 'onnxruntime') {
    const serve = await createGraphSession(buildBertOnnx(config, weights), {});
    // The engine's own batch feeds, built before the clock starts: the forward timed is the graph's run, as serving's tokenizer hands it int64 tensors.
    const fed = measured.map((b) => inputFeeds(features.raw(b), undefined));
    for (const f of fed) await serve.run(f);
    const f0 = performance.now();
    for (const f of fed) await serve.run(f);
    forwardSeconds = (performance.now() - f0) / 1000;
    await serve.release();
    // The training graph's own forward: the same operators, but the weights are inputs, so
    // onnxruntime cannot pre-pack them for its GEMMs as it does the serving graph's initializers.
    const own = buildTrainingGraph(config, weights, { loss: { name: 'bce' }, frozenLayers: 0, forwardOnly: true });
    const ownSession = await createGraphSession(own.bytes, TRAINING_SESSION);
    const weightFeeds = Object.fromEntries(own.trainable.map((n) => [n, { type: 'float32' as const, data: weights.get(n)!.data, dims: weights.get(n)!.shape }]));
    for (const f of fed) await ownSession.run({ ...f, ...weightFeeds }, [OUTPUT_NAME]);
    const o0 = performance.now();
    for (const f of fed) await ownSession.run({ ...f, ...weightFeeds }, [OUTPUT_NAME]);
    ownForwardSeconds = (performance.now() - o0) / 1000;
    await ownSession.release();
  }
  await engine.dispose();
  let optimizerMs: number | undefined;
  if (engineName === 'onnxruntime') {
    // The AdamW update alone, as the engine runs it (wasm SIMD, one thread, Σg² from the graph's output), on tensors of the model's sizes.
    const sizes = new Map([...weights].map(([n, t]) => [n, t.data.length]));
    const opt = createArrayAdamW(sizes, { lr: 1e-5, weightDecay: 0.01, clipNorm: 1 });
    const w = new Map([...weights].map(([n, t]) => [n, Float32Array.from(t.data)]));
    const grads = () => new Map([...w].map(([n, t]) => [n, new Float32Array(t.length).fill(1e-3)]));
    opt.apply(w, grads(), 1e-5, 1);
    let spent = 0;
    for (let i = 0; i < 3; i++) {
      const g = grads();
      const a0 = performance.now();
      opt.apply(w, g, 1e-5, 1);
      spent += performance.now() - a0;
    }
    optimizerMs = spent / 3;
  }
  const flops = flopsPerSequence(config, tokens) * 3 * samples;
  process.stdout.write(
    JSON.stringify({
      engine: engineName,
      shape,
      description: engine.description,
      steps: measured.length,
      samplesPerSecond: samples / stepSeconds,
      paddedTokensPerRow: tokens,
      gflops: flops / stepSeconds / 1e9,
      stepOverForward: forwardSeconds ? stepSeconds / forwardSeconds : undefined,
      stepOverOwnForward: ownForwardSeconds ? stepSeconds / ownForwardSeconds : undefined,
      // The training graph's runs alone against the serving forward: what the graph costs before the JS around it.
      graphOverForward: forwardSeconds && Number.isFinite(phases.graph) ? phases.graph / 1000 / forwardSeconds : undefined,
      phasesMs: Number.isFinite(phases.graph) ? Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, v / measured.length])) : undefined,
      stepMs: (stepSeconds * 1000) / measured.length,
      optimizerMs,
      peakRssMiB,
      longestRssMiB,
      longestTokens,
    }) + '\n',
  );
}

/**
 * What a failed child said, not where: an engine that runs out of its heap (tfjs-wasm on bert-base:
 * XNNPACK's status 6, then an abort) ends with a stack trace and a line of minified emscripten code.
 */
function childError(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && l.length < 300 && !l.startsWith('at ') && !/^\^+$/.test(l) && !l.startsWith('Node.js v'));
  const said = [...new Set(lines.filter((l) => /error|abort|status|out of/i.test(l)))];
  return (said.length > 0 ? said : lines.slice(-2)).slice(-3).join('; ');
}

/** How an engine out of memory fails: XNNPACK's status 6 (out of memory), then emscripten's abort. */
const OUT_OF_MEMORY = /status 6|out of bounds|Aborted|out of memory/i;

function runChild(engine: string, shape: string, steps: number, batch = BATCH): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', engine, '--shape', shape, '--steps', String(steps), '--batch', String(batch), '--shared', values.shared], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) return { engine, shape, error: childError(r.stderr || r.stdout) };
  return JSON.parse(line) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const ceiling = await measureMatMulGflops(2048, 0, 3);
  const rows: Array<Record<string, unknown>> = [];
  for (const shape of values.shapes.split(',')) {
    const steps = shape === 'base' ? Number(values['base-steps']) : Number(values.steps);
    for (const engine of ['onnxruntime', 'tfjs-wasm']) {
      let r = runChild(engine, shape, steps);
      // Out of its memory at the bench's batch: does the engine train this shape at all? (tfjs-wasm's
      // wasm32 heap of 4 GiB does not hold bert-base's weights, gradients and Adam moments, whatever the batch.)
      if (typeof r.error === 'string' && OUT_OF_MEMORY.test(r.error) && BATCH > 1) {
        const one = runChild(engine, shape, steps, 1);
        r = one.error ? { ...r, error: `${r.error} (and at batch 1: ${String(one.error)})` } : { ...one, onlyAtBatch: 1, error: `at batch ${BATCH}: ${r.error}` };
      }
      process.stderr.write(JSON.stringify(r) + '\n');
      rows.push(r);
    }
  }
  const sps = (e: string, s: string) => rows.find((r) => r.engine === e && r.shape === s)?.samplesPerSecond as number | undefined;
  const fmt = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : String(v ?? '—'));
  const md = [
    `# Training engines (${new Date().toISOString().slice(0, 10)}, ${texts().source}, batch ${BATCH})`,
    '',
    `2048² MatMul ceiling through onnxruntime: ${ceiling.toFixed(1)} GFLOP/s`,
    '',
    '| shape | engine | samples/s | × tfjs-wasm | step / forward | step / forward, weights as inputs | ms/step | AdamW ms | GFLOP/s | of ceiling | peak RSS MiB | peak RSS MiB, a batch of the longest rows (tokens) | padded tokens/row |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const base = sps('tfjs-wasm', String(r.shape));
      // A rate at another batch is no comparison: the ratio stays empty.
      const sameBatch = !rows.some((o) => o.shape === r.shape && o.onlyAtBatch !== undefined);
      const ratio = r.engine === 'onnxruntime' && base && sameBatch ? (r.samplesPerSecond as number) / base : undefined;
      return `| ${r.shape} | ${r.engine} | ${fmt(r.samplesPerSecond, 2)}${r.onlyAtBatch === undefined ? '' : ` (batch ${String(r.onlyAtBatch)})`} | ${fmt(ratio, 2)} | ${fmt(r.stepOverForward, 2)} | ${fmt(r.stepOverOwnForward, 2)} | ${fmt(r.stepMs, 0)} | ${fmt(r.optimizerMs, 0)} | ${fmt(r.gflops)} | ${typeof r.gflops === 'number' ? `${((100 * r.gflops) / ceiling).toFixed(0)}%` : '—'} | ${fmt(r.peakRssMiB, 0)} | ${typeof r.longestRssMiB === 'number' ? `${fmt(r.longestRssMiB, 0)} (${String(r.longestTokens)})` : '—'} | ${fmt(r.paddedTokensPerRow, 1)} |${r.error ? ` error: ${String(r.error)}` : ''}`;
    }),
    '',
    'Where an onnxruntime step goes (ms per step: the feeds built, the training graph run, row gradients summed, the update), and the graph run alone / the serving forward:',
    '',
    ...rows
      .filter((r) => r.phasesMs)
      .map((r) => {
        const p = r.phasesMs as Record<string, number>;
        return `- ${r.shape}: inputs ${fmt(p.inputs, 2)}, graph ${fmt(p.graph, 2)}, gather ${fmt(p.gather, 2)}, update ${fmt(p.update, 2)}; graph / forward ${fmt(r.graphOverForward, 2)}`;
      }),
  ].join('\n');
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train-engines-latest.json'), JSON.stringify({ ceiling, rows }, null, 1) + '\n');
  writeFileSync(join(dir, 'train-engines-latest.md'), md + '\n');
  process.stdout.write(md + '\n');
}

if (values.child) await child(values.child, values.shape ?? 'small', Number(values.steps));
else await main();
