import { Worker } from 'node:worker_threads';
import { LivetagError, type ErrorCode } from '../common/errors.ts';
import { createOrtRunner, type Device, type OrtRunner, type SessionOptions } from './onnx-session.ts';
import type { EncodedBatch } from './tokenizer.ts';

export interface ModelRunnerOptions extends SessionOptions {
  /** Run the session on a worker thread (default true) so the event loop stays free. */
  readonly worker?: boolean;
}

export interface ModelRunner {
  readonly provider: Device;
  infer(batch: EncodedBatch): Promise<Float32Array>;
  stop(): Promise<void>;
}

type Pending = { resolve: (v: Float32Array) => void; reject: (e: Error) => void };

/**
 * Workers do not inherit the parent's in-process tsx registration, so the
 * worker's first act is to register tsx, then load the TypeScript entry.
 */
const WORKER_BOOT = `(async () => {
  const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});
  register();
  await import(${JSON.stringify(new URL('./inference-worker.ts', import.meta.url).href)});
})();`;

async function createWorkerRunner(model: Uint8Array, opts: ModelRunnerOptions): Promise<ModelRunner> {
  const { warn, worker: _w, ...options } = opts;
  const worker = new Worker(WORKER_BOOT, { eval: true, workerData: { model, options } });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let exited: Error | undefined;

  const provider = await new Promise<Device>((resolve, reject) => {
    worker.once('message', (msg: { provider: Device; warnings: string[] }) => {
      for (const w of msg.warnings) (warn ?? console.warn)(w);
      resolve(msg.provider);
    });
    worker.once('error', reject);
  });

  worker.on('message', (msg: { id: number; logits?: Float32Array; error?: { message: string; code?: string; retryable?: boolean }; stopped?: boolean }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) {
      const code = (msg.error.code ?? 'LT_INFERENCE') as ErrorCode;
      p.reject(new LivetagError(code, msg.error.message, { retryable: msg.error.retryable }));
    } else p.resolve(msg.logits ?? new Float32Array());
  });
  const failAll = (err: Error): void => {
    exited = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('error', (err) => failAll(new LivetagError('LT_WORKER_EXITED', `inference worker failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => failAll(new LivetagError('LT_WORKER_EXITED', `inference worker exited with code ${code}`)));

  const call = (payload: object, transfer: ArrayBuffer[] = []): Promise<Float32Array> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(exited);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...payload }, transfer);
    });

  let stopping: Promise<void> | undefined;
  return {
    provider,
    infer: (batch) => call({ batch }),
    stop() {
      // Requests already posted are answered first: the worker handles messages in order.
      stopping ??= (async () => {
        if (!exited) await call({ stop: true }).catch(() => undefined);
        await worker.terminate();
      })();
      return stopping;
    },
  };
}

function inlineRunner(runner: OrtRunner): ModelRunner {
  let stopping: Promise<void> | undefined;
  return {
    provider: runner.provider,
    infer: (batch) => runner.run(batch),
    stop: () => (stopping ??= runner.release()),
  };
}

export async function createModelRunner(model: Uint8Array, opts: ModelRunnerOptions = {}): Promise<ModelRunner> {
  if (opts.worker === false) return inlineRunner(await createOrtRunner(model, opts));
  return createWorkerRunner(model, opts);
}
