/**
 * The onnxruntime training engine: livetag's own training graph (forward,
 * loss and backward in one graph, src/model/build/training-graph.ts) run by
 * the runtime serving already ships, on CPU or the CUDA execution provider,
 * with AdamW on typed arrays. Weights live here and go in as graph inputs
 * each step; onnxruntime-node binds only CPU tensors, so on CUDA they cross
 * PCIe every step (docs/performance.md measures that share).
 */
import { LivetagError } from '../common/errors.ts';
import { GRAD_SUMSQ_OUTPUT } from '../model/build/autodiff/tape.ts';
import { buildTrainingGraph, LOSS_OUTPUT, TRAINING_INPUTS, type TrainingGraph, type TrainingLoss } from '../model/build/training-graph.ts';
import type { NgramSource } from '../model/ngram-hash.ts';
import { INPUT_NAMES, NGRAM_INPUT, OUTPUT_NAME } from '../model/onnx-names.ts';
import { createGraphSession, TRAINING_SESSION, type Feed, type GraphSession } from '../model/runtime/graph-session.ts';
import { isTrainable, weightSpecs, WORD_EMBEDDINGS, type WeightMap } from '../model/weights.ts';
import { createArrayAdamW, sumOfSquares } from './adamw-arrays.ts';
import { createDropoutMasks, microBatchSeed, type DropoutMasks } from './dropout-masks.ts';
import { createRowSum, type SummedRows } from './row-gradients.ts';
import type { StoredTensor } from './checkpoint.ts';
import type { EngineOptions, StepPhases, StepResult, TrainingEngine } from './engine.ts';
import { lengthSortedBatches, type RawInput } from './features.ts';
import type { LossOptions } from './losses.ts';

/** The tfjs losses' defaults (losses.ts), so both engines train the same objective. */
export function trainingLoss(l: LossOptions): TrainingLoss {
  switch (l.name) {
    case 'focal':
      return { name: 'focal', gamma: l.gamma ?? 2 };
    case 'asl':
      return { name: 'asl', gammaNeg: l.gammaNeg ?? 4, gammaPos: l.gammaPos ?? 0, clip: l.clip ?? 0.05 };
    default:
      return { name: l.name };
  }
}

/**
 * Int32 values as int64 feed data, in a plain loop: V8's
 * `BigInt64Array.from(a, BigInt)` calls the map through the iterator
 * protocol, ~0.29 ms for a 32 × 27 batch's ids and mask against ~0.02.
 */
function int64(a: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i]);
  return out;
}

/** The training graph's batch inputs; `wide`: the n-gram branch's source, if the model has one. */
export function inputFeeds(x: RawInput, wide: NgramSource | undefined): Record<string, Feed> {
  const dims = [x.rows, x.seq];
  const mask: Feed = { type: 'int64', data: int64(x.mask), dims };
  const ids: Feed = { type: 'int64', data: int64(x.ids), dims };
  let codes = {};
  if (wide === 'text') {
    if (!x.codes) throw new LivetagError('LT_TRAINING', "the model's n-gram branch reads the text, and the training features carry no codes");
    codes = { [NGRAM_INPUT]: { type: 'int64', data: int64(x.codes.data), dims: [x.rows, x.codes.chars] } satisfies Feed };
  }
  if (x.kind === 'hidden') {
    const hidden: Feed = { type: 'float32', data: x.hidden, dims: [x.rows, x.seq, x.hidden.length / Math.max(1, x.rows * x.seq)] };
    return { [TRAINING_INPUTS.hidden]: hidden, [INPUT_NAMES[1]]: mask, ...(wide === 'tokens' ? { [INPUT_NAMES[0]]: ids } : {}), ...codes };
  }
  return {
    [INPUT_NAMES[0]]: ids,
    [INPUT_NAMES[1]]: mask,
    [INPUT_NAMES[2]]: { type: 'int64', data: new BigInt64Array(x.rows * x.seq), dims },
    ...codes,
  };
}

async function openSessions(o: EngineOptions, weights: WeightMap, rowTensors: ReadonlySet<string>): Promise<{ train: GraphSession; predict: GraphSession; masks: DropoutMasks; note: string; rowGradients: TrainingGraph['rowGradients'] }> {
  const loss = trainingLoss(o.loss);
  const frozen = o.frozenTensors ? { frozenTensors: o.frozenTensors } : {};
  const train = buildTrainingGraph(o.config, weights, { loss, frozenLayers: o.frozenLayers, dropout: (o.dropout ?? 0) > 0, rowGradients: rowTensors, ...frozen });
  const predict = buildTrainingGraph(o.config, weights, { loss, frozenLayers: o.frozenLayers, forwardOnly: true, ...frozen });
  const device = o.device ?? 'auto';
  let reason = '';
  const session = { ...TRAINING_SESSION, threads: o.threads ?? 0, device: device === 'cpu' ? ('cpu' as const) : ('cuda' as const), warn: (m: string) => (reason = m) };
  const t = await createGraphSession(train.bytes, session);
  const p = await createGraphSession(predict.bytes, { ...session, device: t.provider });
  if (device === 'cuda' && t.provider !== 'cuda') o.log?.(`--device cuda: ${reason.replace(/^livetag: /, '')}`);
  const note = device === 'auto' && t.provider === 'cpu' ? ` (auto: ${reason ? 'CUDA provider not available' : 'CPU'})` : '';
  return { train: t, predict: p, masks: createDropoutMasks(train.dropoutSites), note, rowGradients: train.rowGradients };
}

/**
 * A dense gradient built from summed rows: zero but for the rows a batch read,
 * which are cleared again after the update, so a step touches only those.
 */
function createDenseFromRows(size: number): { fill(r: SummedRows): Float32Array; clear(r: SummedRows): void } {
  const dense = new Float32Array(size);
  return {
    fill(r) {
      r.rows.forEach((row, i) => dense.set(r.values.subarray(i * r.width, (i + 1) * r.width), row * r.width));
      return dense;
    },
    clear(r) {
      for (const row of r.rows) dense.fill(0, row * r.width, (row + 1) * r.width);
    },
  };
}

interface PhaseClock {
  /** Charges the time since the last lap to `phase`; returns the totals so far. */
  lap(phase: keyof StepPhases): StepPhases;
}

function phaseClock(): PhaseClock {
  const spent = { inputs: 0, graph: 0, gather: 0, update: 0 };
  let last = performance.now();
  return {
    lap(phase) {
      const now = performance.now();
      spent[phase] += now - last;
      last = now;
      return { ...spent };
    },
  };
}

export async function createOrtEngine(o: EngineOptions): Promise<TrainingEngine> {
  const { config, frozenLayers } = o;
  const trainable = weightSpecs(config).filter((s) => isTrainable(s.name, frozenLayers) && !o.frozenTensors?.has(s.name)).map((s) => s.name);
  const weights = new Map(trainable.map((n) => [n, Float32Array.from(o.weights.get(n)!.data)]));
  const sparseRows = new Map(trainable.filter((n) => o.sparseTensors?.has(n) && o.weights.get(n)!.shape.length === 2).map((n) => [n, o.weights.get(n)!.shape[1]]));
  const optimizer = createArrayAdamW(new Map([...weights].map(([n, w]) => [n, w.length])), o.optimizer, { sparseRows });
  // A sparse-row table's gradient leaves the graph as the rows a batch read (row-gradients.ts), never as a dense table.
  // So does the word table's, summed into its dense gradient here: onnxruntime's ScatterElements
  // zeroed, filled and copied out the whole table each step (a tenth of a small model's graph time).
  const wordByRows = trainable.includes(WORD_EMBEDDINGS) && !sparseRows.has(WORD_EMBEDDINGS);
  const wordGrad = wordByRows ? createDenseFromRows(o.weights.get(WORD_EMBEDDINGS)!.data.length) : undefined;
  const { train, predict, masks, note, rowGradients } = await openSessions(o, o.weights, new Set([...sparseRows.keys(), ...(wordByRows ? [WORD_EMBEDDINGS] : [])]));
  const posWeight = new Float32Array(config.numLabels).fill(1);
  o.loss.posWeight?.forEach((w, i) => (posWeight[i] = w));
  const dropout = o.dropout ?? 0;
  const wide = config.ngram?.source;
  const weightFeeds = (): Record<string, Feed> =>
    Object.fromEntries([...weights].map(([n, w]) => [n, { type: 'float32', data: w, dims: o.weights.get(n)!.shape } as Feed]));
  const dense = trainable.filter((n) => !rowGradients.has(n));
  const gradNames = dense.map((n) => `grad.${n}`);
  const rowNames = [...rowGradients.values()].flatMap((r) => [r.ids, r.rows]);
  // One per table for the engine's life: the wasm kernel's memory is set up once, not every step.
  const sums = new Map([...rowGradients.keys()].map((n) => [n, createRowSum(o.weights.get(n)!.shape[1])]));
  let disposed = false;

  /** Loss and gradients of one micro-batch, the graph's mean over its rows. */
  async function forwardBackward(rows: readonly number[], targets: Float32Array, seed: number, clock: PhaseClock): Promise<{ loss: number; grads: Map<string, Float32Array>; sumsq: number; out: Record<string, Float32Array> }> {
    const x = o.features.raw(rows);
    const feeds: Record<string, Feed> = {
      ...inputFeeds(x, wide),
      ...(dropout > 0 ? masks.feeds(dropout, seed, { batch: x.rows, sequence: x.seq }) : {}),
      ...weightFeeds(),
      [TRAINING_INPUTS.labels]: { type: 'float32', data: targets, dims: [rows.length, config.numLabels] },
      [TRAINING_INPUTS.posWeight]: { type: 'float32', data: posWeight, dims: [config.numLabels] },
    };
    clock.lap('inputs');
    const out = await train.run(feeds, [LOSS_OUTPUT, ...gradNames, GRAD_SUMSQ_OUTPUT, ...rowNames]);
    clock.lap('graph');
    return { loss: out[LOSS_OUTPUT][0], grads: new Map(dense.map((n) => [n, out[`grad.${n}`]])), sumsq: out[GRAD_SUMSQ_OUTPUT][0], out };
  }

  /**
   * One update from `rows`: in micro-batches of `microBatchSize` when set
   * (gradient accumulation: each micro-batch's mean gradient weighted by its
   * share of rows, so the update equals one pass over the whole batch).
   */
  async function step(rows: readonly number[], targets: Float32Array, lr: number, dropoutSeed: number): Promise<StepResult> {
    const clock = phaseClock();
    const width = config.numLabels;
    const micro = o.microBatchSize && o.microBatchSize < rows.length ? o.microBatchSize : rows.length;
    let loss = 0;
    let total: Map<string, Float32Array> | undefined;
    // The graph's Σg² is the norm of a whole batch's dense gradient; accumulated micro-batches are summed in JS.
    let sumsq: number | undefined;
    for (const sum of sums.values()) sum.reset();
    for (let i = 0; i < rows.length; i += micro) {
      const part = rows.slice(i, i + micro);
      clock.lap('gather');
      const r = await forwardBackward(part, targets.subarray(i * width, (i + part.length) * width), microBatchSeed(dropoutSeed, i), clock);
      const share = part.length / rows.length;
      loss += r.loss * share;
      for (const [n, sum] of sums) sum.add(r.out[rowGradients.get(n)!.ids] as unknown as BigInt64Array, r.out[rowGradients.get(n)!.rows], share);
      if (micro === rows.length) {
        total = r.grads;
        sumsq = r.sumsq;
      } else if (!total) total = new Map([...r.grads].map(([n, g]) => [n, g.map((v) => v * share)]));
      else for (const [n, g] of r.grads) {
        const acc = total.get(n)!;
        for (let j = 0; j < acc.length; j++) acc[j] += g[j] * share;
      }
    }
    if (!Number.isFinite(loss) || !total) return { loss, gradNorm: NaN };
    const summed = new Map([...sums].map(([n, sum]) => [n, sum.result()]));
    clock.lap('gather');
    const word = wordGrad && summed.get(WORD_EMBEDDINGS);
    if (!word) {
      const gradNorm = optimizer.apply(weights, total, lr, sumsq, summed);
      return { loss, gradNorm, phases: clock.lap('update') };
    }
    summed.delete(WORD_EMBEDDINGS);
    total.set(WORD_EMBEDDINGS, wordGrad.fill(word));
    try {
      const gradNorm = optimizer.apply(weights, total, lr, sumsq === undefined ? undefined : sumsq + sumOfSquares(word.values), summed);
      return { loss, gradNorm, phases: clock.lap('update') };
    } finally {
      wordGrad.clear(word);
    }
  }

  async function logits(rows: readonly number[]): Promise<Float32Array> {
    const width = config.numLabels;
    const result = new Float32Array(rows.length * width);
    const position = new Map(rows.map((r, i) => [r, i]));
    for (const batch of lengthSortedBatches(rows, o.features.lengths, o.predictBatchSize ?? 64)) {
      const out = (await predict.run({ ...inputFeeds(o.features.raw(batch), wide), ...weightFeeds() }, [OUTPUT_NAME]))[OUTPUT_NAME];
      batch.forEach((r, b) => result.set(out.subarray(b * width, (b + 1) * width), position.get(r)! * width));
    }
    return result;
  }

  const copy = (m: ReadonlyMap<string, Float32Array>): Map<string, StoredTensor> =>
    new Map([...m].map(([n, d]) => [n, { shape: o.weights.get(n)!.shape, data: Float32Array.from(d) }]));
  const load = (into: Map<string, Float32Array>, from: ReadonlyMap<string, StoredTensor>, prefix: string): void => {
    for (const [n, d] of into) {
      const t = from.get(prefix + n);
      if (!t || t.data.length !== d.length) throw new LivetagError('LT_CHECKPOINT', `checkpoint lacks ${prefix}${n} or its size differs`);
      d.set(t.data);
    }
  };

  return {
    name: 'onnxruntime',
    description: `onnxruntime ${train.provider}${note}, ${o.threads ? `${o.threads} threads` : 'one thread per core'}, training graph with ${trainable.length} trainable tensors, AdamW in ${optimizer.kernel}`,
    config,
    frozenLayers,
    step,
    logits,
    snapshot: () => copy(weights),
    restore: (tensors, prefix = '') => load(weights, tensors, prefix),
    optimizerState: () => ({ step: optimizer.step, m: copy(optimizer.m), v: copy(optimizer.v) }),
    restoreOptimizer(state) {
      load(optimizer.m, state.m, '');
      load(optimizer.v, state.v, '');
      optimizer.step = state.step;
    },
    exportWeights() {
      const out: WeightMap = new Map();
      for (const spec of weightSpecs(config)) {
        const w = weights.get(spec.name);
        out.set(spec.name, w ? { shape: [...spec.shape], data: Float32Array.from(w) } : o.weights.get(spec.name)!);
      }
      return out;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await train.release();
      await predict.release();
    },
  };
}
