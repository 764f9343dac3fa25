// Before onnxruntime-node: it must see the telemetry setting when it starts.
import './ort-telemetry.ts';
import * as ort from 'onnxruntime-node';
import { LivetagError } from '../../common/errors.ts';
import { INPUT_NAMES, NGRAM_INPUT } from '../onnx-names.ts';
import type { EncodedBatch } from '../tokenizer.ts';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  readonly device?: Device;
  readonly deviceId?: number;
  /** intra-op threads; 0 lets onnxruntime choose (one per core). */
  readonly threads?: number;
  readonly warn?: (message: string) => void;
  /**
   * onnxruntime graph optimisation: 'all' (default) applies its transformer
   * fusions (Attention, SkipLayerNormalization, BiasGelu, …) at load;
   * 'basic' only folds constants, the unfused baseline.
   */
  readonly optimization?: 'basic' | 'all';
  /** Where onnxruntime writes the graph it actually runs (to inspect fusions). */
  readonly optimizedModelPath?: string;
  /**
   * onnxruntime's per-operator profile (Chrome trace JSON) goes to a file
   * named from this prefix, finished when the session is released: where a
   * training step's time goes, kernel by kernel (bench/train-step-profile.ts).
   */
  readonly profilePrefix?: string;
  /**
   * Let onnxruntime's intra-op threads spin between operators (its default).
   * Spinning shaves latency off an idle machine but burns CPU that Kafka and
   * tokenization need when they share the cores (measured in bench/suite.ts).
   */
  readonly spinning?: boolean;
  /**
   * The graph to run when the CUDA provider loads (a bundle's fp16 variant);
   * the CPU fallback runs the main graph instead.
   */
  readonly cudaModel?: Uint8Array;
  /**
   * onnxruntime's memory pattern (default on): from the second run of an
   * input shape it plans that shape's intermediates as one block. A training
   * graph keeps every activation for its backward, so each shape's block is
   * new memory, first touched on that second run: a bert-base step met its
   * length a second time in 1.4–1.5× its usual time (300k page faults), and
   * the blocks raised peak RSS from 2.4 to 4.1 GB. Steady runs are no faster
   * with it. Training sessions turn it off; the serving forward, whose
   * activations die as they are read, runs the same either way.
   */
  readonly memoryPattern?: boolean;
}

export interface OrtRunner {
  readonly provider: Device;
  run(batch: EncodedBatch): Promise<Float32Array>;
  release(): Promise<void>;
}

// onnxruntime's own logger prints provider-loading failures as errors; we
// report the fallback ourselves, once, through the caller's logger.
ort.env.logLevel = 'fatal';

/** onnxruntime's options for ours, every provider's (exported for tests). */
export function ortSessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: opts.optimization ?? 'all',
    ...(opts.optimizedModelPath ? { optimizedModelFilePath: opts.optimizedModelPath } : {}),
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    executionMode: 'sequential',
    ...(opts.memoryPattern === false ? { enableMemPattern: false } : {}),
    intraOpNumThreads: opts.threads ?? 0,
    interOpNumThreads: 1,
    logSeverityLevel: 4,
    ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
  };
}

/**
 * The only place the project creates onnxruntime sessions: CUDA when asked
 * for and it loads (`cudaModel` then, when given), else CPU with one warning.
 */
export async function openSession(model: Uint8Array, opts: SessionOptions = {}): Promise<{ session: ort.InferenceSession; provider: Device }> {
  let session: ort.InferenceSession | undefined;
  let provider: Device = 'cpu';
  if (opts.device === 'cuda') {
    try {
      session = await ort.InferenceSession.create(opts.cudaModel ?? model, {
        ...ortSessionOptions(opts),
        executionProviders: [{ name: 'cuda', deviceId: opts.deviceId ?? 0 }],
      });
      provider = 'cuda';
    } catch (err) {
      (opts.warn ?? console.warn)(
        `livetag: CUDA execution provider unavailable (${(err as Error).message.split('\n')[0]}); running on CPU. ` +
          'Install the CUDA provider with ONNXRUNTIME_NODE_INSTALL=cuda12 (see README, GPU).',
      );
    }
  }
  try {
    session ??= await ort.InferenceSession.create(model, { ...ortSessionOptions(opts), executionProviders: ['cpu'] });
  } catch (cause) {
    throw new LivetagError('LT_ONNX_INVALID', `onnxruntime cannot load the graph: ${(cause as Error).message}`, { cause });
  }
  return { session, provider };
}

export async function createOrtRunner(model: Uint8Array, opts: SessionOptions = {}): Promise<OrtRunner> {
  const { session, provider } = await openSession(model, opts);
  const live = session;
  // The first output: logits for full graphs, hidden states for encoder prefixes.
  const outputName = live.outputNames[0];
  const wantsCodes = live.inputNames.includes(NGRAM_INPUT);
  let released = false;

  return {
    provider,
    async run(batch) {
      if (released) throw new LivetagError('LT_STOPPED', 'inference session is released');
      const dims = [batch.batchSize, batch.seqLength];
      const feeds: Record<string, ort.Tensor> = {
        [INPUT_NAMES[0]]: new ort.Tensor('int64', batch.inputIds, dims),
        [INPUT_NAMES[1]]: new ort.Tensor('int64', batch.attentionMask, dims),
        [INPUT_NAMES[2]]: new ort.Tensor('int64', batch.tokenTypeIds, dims),
      };
      if (wantsCodes) {
        if (!batch.ngramCodes) throw new LivetagError('LT_INFERENCE', `the graph's n-gram branch reads the text (input ${NGRAM_INPUT}) and the batch has no codes`);
        feeds[NGRAM_INPUT] = new ort.Tensor('int64', batch.ngramCodes, [batch.batchSize, batch.codesLength ?? 0]);
      }
      try {
        const out = await live.run(feeds);
        const logits = out[outputName];
        const data = logits.data as Float32Array;
        logits.dispose?.();
        return data;
      } catch (cause) {
        throw new LivetagError('LT_INFERENCE', `onnxruntime run failed: ${(cause as Error).message}`, { cause });
      }
    },
    async release() {
      if (released) return;
      released = true;
      await live.release();
    },
  };
}
