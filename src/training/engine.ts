/**
 * What the training loop needs from a model and its optimizer, whichever
 * runtime computes them: onnxruntime running livetag's own training graph
 * (the default), or TensorFlow.js (the independent oracle in tests, and still
 * selectable). The loop (trainer.ts) owns epochs, validation, early stopping
 * and checkpoints; an engine owns the weights and the AdamW state.
 */
import type { BertConfig } from '../model/bert-config.ts';
import type { WeightMap } from '../model/weights.ts';
import type { StoredTensor } from './checkpoint.ts';
import type { FeatureStore } from './features.ts';
import type { LossOptions } from './losses.ts';
import type { AdamWOptions } from './optimizer.ts';

export type EngineName = 'onnxruntime' | 'tfjs';

export interface OptimizerSnapshot {
  readonly step: number;
  readonly m: ReadonlyMap<string, StoredTensor>;
  readonly v: ReadonlyMap<string, StoredTensor>;
}

export interface StepResult {
  /** The batch's training loss (dropout on). */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** Where the step's wall time went, in ms (the onnxruntime engine; bench/train-engines.ts prints it). */
  readonly phases?: StepPhases;
}

export interface StepPhases {
  /** Batch tensors and dropout masks built, weights handed over as feeds. */
  readonly inputs: number;
  /** The training graph's runs (outputs copied out included). */
  readonly graph: number;
  /** Row gradients summed, micro-batches accumulated. */
  readonly gather: number;
  /** Σg², clipping and the AdamW update. */
  readonly update: number;
}

export interface TrainingEngine {
  readonly name: EngineName;
  /** One line for the log: runtime, device, threads. */
  readonly description: string;
  readonly config: BertConfig;
  readonly frozenLayers: number;
  /**
   * One optimizer step on `rows` of the feature store: forward with dropout,
   * loss, backward, AdamW (global-norm clip, decoupled decay) at rate `lr`.
   * `targets` is [rows, numLabels] 0/1; `dropoutSeed` makes masks reproducible.
   */
  step(rows: readonly number[], targets: Float32Array, lr: number, dropoutSeed: number): Promise<StepResult>;
  /** Logits [rows, numLabels] without dropout, in the order of `rows`. */
  logits(rows: readonly number[]): Promise<Float32Array>;
  /** Copies of the trainable tensors (engine layout; only `restore` of the same engine reads them). */
  snapshot(): Map<string, StoredTensor>;
  restore(tensors: ReadonlyMap<string, StoredTensor>, prefix?: string): void;
  optimizerState(): OptimizerSnapshot;
  restoreOptimizer(state: OptimizerSnapshot): void;
  /** Every tensor of the model in canonical (Hugging Face) layout, for the ONNX writer. */
  exportWeights(): WeightMap;
  dispose(): Promise<void>;
}

export interface EngineOptions {
  readonly config: BertConfig;
  readonly weights: WeightMap;
  readonly frozenLayers: number;
  /** onnxruntime only: tensors kept as given although their layer trains (the n-gram table with --ngram-frozen). */
  readonly frozenTensors?: ReadonlySet<string>;
  /** onnxruntime only: 2-D tensors whose rows AdamW moves only where the batch gave them a gradient (the n-gram table). */
  readonly sparseTensors?: ReadonlySet<string>;
  readonly features: FeatureStore;
  readonly loss: LossOptions;
  readonly optimizer: AdamWOptions;
  /** Dropout rate while training (the recipe's); 0 turns it off. */
  readonly dropout?: number;
  /**
   * onnxruntime only: rows per forward/backward pass; a larger batch is
   * accumulated from several (the same update, less memory).
   */
  readonly microBatchSize?: number;
  /** Rows per forward pass when predicting. */
  readonly predictBatchSize?: number;
  readonly threads?: number;
  /** onnxruntime only: auto = CUDA when its provider loads, else CPU (the reason logged). */
  readonly device?: 'auto' | 'cpu' | 'cuda';
  readonly log?: (line: string) => void;
}
