/**
 * Runs the masked-language-model graph on onnxruntime with AdamW on typed
 * arrays (adamw-arrays.ts), as the classifier's onnxruntime engine does:
 * weights stay in this process and go in as graph inputs each step.
 */
import { GRAD_SUMSQ_OUTPUT } from '../../model/build/autodiff/tape.ts';
import { buildMlmGraph, MLM_INPUTS, MLM_OUTPUTS, mlmWeightSpecs } from '../../model/build/mlm-graph.ts';
import type { BertConfig } from '../../model/bert-config.ts';
import { INPUT_NAMES } from '../../model/onnx-names.ts';
import { createGraphSession, TRAINING_SESSION, type Feed } from '../../model/runtime/graph-session.ts';
import type { WeightMap } from '../../model/weights.ts';
import { LivetagError } from '../../common/errors.ts';
import { createArrayAdamW } from '../adamw-arrays.ts';
import { createDropoutMasks } from '../dropout-masks.ts';
import type { StoredTensor } from '../checkpoint.ts';
import type { OptimizerSnapshot } from '../engine.ts';
import type { AdamWOptions } from '../optimizer.ts';
import type { MaskedRow } from './masking.ts';

export interface MlmEngineOptions {
  readonly config: BertConfig;
  /** The encoder's and the MLM head's tensors (mlmWeightSpecs). */
  readonly weights: WeightMap;
  readonly optimizer: AdamWOptions;
  readonly dropout: number;
  readonly threads?: number;
  readonly device?: 'auto' | 'cpu' | 'cuda';
}

export interface MlmStepResult {
  readonly loss: number;
  readonly masked: number;
  readonly correct: number;
  readonly gradNorm: number;
}

export interface MlmEngine {
  readonly description: string;
  step(rows: readonly MaskedRow[], lr: number): Promise<MlmStepResult>;
  /** The trained tensors as they are now (copies). */
  snapshot(): Map<string, StoredTensor>;
  restore(tensors: ReadonlyMap<string, StoredTensor>): void;
  optimizerState(): OptimizerSnapshot;
  restoreOptimizer(state: OptimizerSnapshot): void;
  dispose(): Promise<void>;
}

/** Pads masked rows into one batch: ids, mask, flat masked positions and their labels. */
export function mlmFeeds(rows: readonly MaskedRow[]): Record<string, Feed> {
  const seq = rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
  const dims = [rows.length, seq];
  const ids = new BigInt64Array(rows.length * seq);
  const mask = new BigInt64Array(rows.length * seq);
  const positions: bigint[] = [];
  const labels: bigint[] = [];
  rows.forEach((r, b) => {
    for (let s = 0; s < r.ids.length; s++) {
      ids[b * seq + s] = BigInt(r.ids[s]);
      mask[b * seq + s] = 1n;
    }
    r.positions.forEach((p, k) => {
      positions.push(BigInt(b * seq + p));
      labels.push(BigInt(r.labels[k]));
    });
  });
  return {
    [INPUT_NAMES[0]]: { type: 'int64', data: ids, dims },
    [INPUT_NAMES[1]]: { type: 'int64', data: mask, dims },
    [INPUT_NAMES[2]]: { type: 'int64', data: new BigInt64Array(rows.length * seq), dims },
    [MLM_INPUTS.positions]: { type: 'int64', data: BigInt64Array.from(positions), dims: [positions.length] },
    [MLM_INPUTS.labels]: { type: 'int64', data: BigInt64Array.from(labels), dims: [labels.length] },
  };
}

export async function createMlmEngine(o: MlmEngineOptions): Promise<MlmEngine> {
  const specs = mlmWeightSpecs(o.config);
  const graph = buildMlmGraph(o.config, o.weights, o.dropout > 0);
  const masks = createDropoutMasks(graph.dropoutSites);
  const weights = new Map(specs.map((s) => [s.name, Float32Array.from(o.weights.get(s.name)!.data)]));
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  const optimizer = createArrayAdamW(new Map([...weights].map(([n, w]) => [n, w.length])), o.optimizer);
  const device = o.device ?? 'auto';
  let reason = '';
  const session = await createGraphSession(graph.bytes, { ...TRAINING_SESSION, threads: o.threads ?? 0, device: device === 'cpu' ? 'cpu' : 'cuda', warn: (m) => (reason = m) });
  // As the classifier's engine does: asked for CUDA and given the CPU, say why (the description, logged first, carries it).
  const fallback = device === 'cuda' && session.provider !== 'cuda' ? ` (--device cuda: ${reason.replace(/^livetag: /, '') || 'CUDA provider not available'})` : '';
  const gradNames = graph.trainable.map((n) => graph.gradients.get(n)!);
  const copy = (m: ReadonlyMap<string, Float32Array>): Map<string, StoredTensor> => new Map([...m].map(([n, d]) => [n, { shape: shapes.get(n)!, data: Float32Array.from(d) }]));
  const load = (into: Map<string, Float32Array>, from: ReadonlyMap<string, StoredTensor>): void => {
    for (const [n, d] of into) {
      const t = from.get(n);
      if (!t || t.data.length !== d.length) throw new LivetagError('LT_CHECKPOINT', `checkpoint lacks ${n} or its size differs`);
      d.set(t.data);
    }
  };

  async function step(rows: readonly MaskedRow[], lr: number): Promise<MlmStepResult> {
    const batch = mlmFeeds(rows);
    const [rowCount, seq] = batch[INPUT_NAMES[0]].dims;
    const feeds: Record<string, Feed> = {
      ...batch,
      // Seeded by the optimizer step, so a resumed run draws the masks the uninterrupted one would.
      ...(o.dropout > 0 ? masks.feeds(o.dropout, optimizer.step + 1, { batch: rowCount, sequence: seq }) : {}),
      ...Object.fromEntries([...weights].map(([n, w]) => [n, { type: 'float32', data: w, dims: shapes.get(n)! } as Feed])),
    };
    const out = await session.run(feeds, [MLM_OUTPUTS.loss, MLM_OUTPUTS.predictions, ...gradNames, GRAD_SUMSQ_OUTPUT]);
    const predicted = out[MLM_OUTPUTS.predictions] as unknown as BigInt64Array;
    const labels = feeds[MLM_INPUTS.labels].data as BigInt64Array;
    let correct = 0;
    for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
    const loss = out[MLM_OUTPUTS.loss][0];
    if (!Number.isFinite(loss)) return { loss, masked: labels.length, correct, gradNorm: NaN };
    const grads = new Map(graph.trainable.map((n, i) => [n, out[gradNames[i]]]));
    return { loss, masked: labels.length, correct, gradNorm: optimizer.apply(weights, grads, lr, out[GRAD_SUMSQ_OUTPUT][0]) };
  }

  let disposed = false;
  return {
    description: `onnxruntime ${session.provider}${fallback}, MLM graph with ${graph.trainable.length} trainable tensors, AdamW in ${optimizer.kernel}`,
    step,
    snapshot: () => copy(weights),
    restore: (tensors) => load(weights, tensors),
    optimizerState: () => ({ step: optimizer.step, m: copy(optimizer.m), v: copy(optimizer.v) }),
    restoreOptimizer(state) {
      load(optimizer.m, state.m);
      load(optimizer.v, state.v);
      optimizer.step = state.step;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}
