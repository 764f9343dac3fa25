/**
 * A session over any livetag graph with named float/int64/bool inputs and
 * float outputs: what the training engine runs (the serving path uses
 * createOrtRunner, which knows the classifier's three inputs).
 */
// Before onnxruntime-node: it must see the telemetry setting when it starts.
import './ort-telemetry.ts';
import * as ort from 'onnxruntime-node';
import { LivetagError } from '../../common/errors.ts';
import { openSession, type Device, type SessionOptions } from './onnx-session.ts';

export type Feed =
  | { readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly number[] }
  | { readonly type: 'int64'; readonly data: BigInt64Array; readonly dims: readonly number[] }
  | { readonly type: 'bool'; readonly data: Uint8Array; readonly dims: readonly number[] };

export interface GraphSession {
  readonly provider: Device;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph; returns the named float outputs (all of them when `outputs` is omitted). */
  run(feeds: Readonly<Record<string, Feed>>, outputs?: readonly string[]): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** What a session running a training graph sets (SessionOptions.memoryPattern says why). */
export const TRAINING_SESSION: Readonly<SessionOptions> = Object.freeze({ memoryPattern: false });

export async function createGraphSession(model: Uint8Array, opts: SessionOptions = {}): Promise<GraphSession> {
  const { session, provider } = await openSession(model, opts);
  let released = false;
  return {
    provider,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputs) {
      if (released) throw new LivetagError('LT_STOPPED', 'graph session is released');
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor(f.type, f.data, [...f.dims]);
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = outputs ? await session.run(tensors, [...outputs]) : await session.run(tensors);
      } catch (cause) {
        throw new LivetagError('LT_TRAINING', `onnxruntime run failed: ${(cause as Error).message}`, { cause, retryable: false });
      }
      const out: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(result)) {
        out[name] = t.data as Float32Array;
        t.dispose?.();
      }
      return out;
    },
    async release() {
      if (released) return;
      released = true;
      if (opts.profilePrefix) session.endProfiling();
      await session.release();
    },
  };
}
