import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, LivetagError, isLivetagError, type ErrorCode } from '../../common/errors.ts';
import { createOrtRunner, type Device, type OrtRunner, type SessionOptions } from './onnx-session.ts';
import type { EncodedBatch } from '../tokenizer.ts';

export interface ModelRunnerOptions extends SessionOptions {
  /** Run the session on a worker thread (default true) so the event loop stays free. */
  readonly worker?: boolean;
  /**
   * Sessions on their own worker threads, each running whole batches and
   * splitting `threads` (default 1). Where the cores are shared (the Kafka
   * client, tokenization, a neighbour), one session's intra-op threads wait
   * at every operator for a descheduled peer; independent sessions do not,
   * but each batch runs on fewer threads (longer) and each session holds its
   * own weights and arena: numbers in docs/performance.md.
   */
  readonly sessions?: number;
}

export interface ModelRunner {
  readonly provider: Device;
  /** Batches that can run at once (the sessions). */
  readonly parallelism: number;
  infer(batch: EncodedBatch): Promise<Float32Array>;
  stop(): Promise<void>;
  /** True once the session can answer nothing more (its worker exited); absent where it cannot die apart from the process. */
  readonly exited?: boolean;
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

/** An error as it crosses the thread boundary: a structured clone keeps the message and own properties, not the class. */
type WorkerError = { message: string; code?: unknown; retryable?: boolean };

/**
 * Rebuilds a LivetagError raised in the worker (say an unreadable graph or a
 * failed run) with its code; anything else becomes `fallback`, since Node's
 * own error codes (ERR_...) are not livetag codes.
 */
function fromWorker(err: WorkerError, fallback: ErrorCode, context: string): LivetagError {
  if (typeof err.code === 'string' && Object.hasOwn(ERROR_CODES, err.code)) {
    return new LivetagError(err.code as ErrorCode, err.message, { cause: err instanceof Error ? err : undefined, retryable: err.retryable });
  }
  return new LivetagError(fallback, `${context}${err.message}`, { cause: err instanceof Error ? err : undefined });
}

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
    worker.once('error', (err) => reject(fromWorker(err, 'LT_WORKER_EXITED', 'inference worker failed to start: ')));
    // Without this a worker that exits before it is ready would leave the caller waiting forever.
    worker.once('exit', (code) => reject(new LivetagError('LT_WORKER_EXITED', `inference worker exited with code ${code} before it was ready`)));
  });

  worker.on('message', (msg: { id: number; logits?: Float32Array; error?: WorkerError; stopped?: boolean }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(fromWorker(msg.error, 'LT_INFERENCE', ''));
    else p.resolve(msg.logits ?? new Float32Array());
  });
  const failAll = (err: Error): void => {
    exited = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('error', (err) => failAll(new LivetagError('LT_WORKER_EXITED', `inference worker failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => failAll(new LivetagError('LT_WORKER_EXITED', `inference worker exited with code ${code}`)));

  const inFlight = new Set<Promise<Float32Array>>();
  const call = (payload: object, transfer: ArrayBuffer[] = []): Promise<Float32Array> => {
    const answer = new Promise<Float32Array>((resolve, reject) => {
      if (exited) return reject(exited);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...payload }, transfer);
    });
    inFlight.add(answer);
    const forget = (): void => void inFlight.delete(answer);
    answer.then(forget, forget);
    return answer;
  };

  let stopping: Promise<void> | undefined;
  return {
    provider,
    parallelism: 1,
    get exited() {
      return exited !== undefined;
    },
    infer: (batch) => call({ batch }),
    stop() {
      // Requests already posted are answered first. Not by message order alone: onnxruntime
      // runs a posted batch on a later turn, and a stop handled meanwhile released its session.
      stopping ??= (async () => {
        await Promise.allSettled([...inFlight]);
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
    parallelism: 1,
    infer: (batch) => runner.run(batch),
    stop: () => (stopping ??= runner.release()),
  };
}

/**
 * Each batch goes to the session with the fewest batches outstanding, so a
 * slow batch does not hold the next one back. A session whose worker died
 * answers nothing more; the others carry on, and the last one's death is
 * every later caller's error.
 */
export function createRunnerPool(members: readonly ModelRunner[]): ModelRunner {
  const outstanding = members.map(() => 0);
  const dead = new Set<number>();
  let lastDeath: Error | undefined;
  let stopping: Promise<void> | undefined;
  return {
    provider: members[0].provider,
    parallelism: members.length,
    get exited() {
      return members.every((m, i) => dead.has(i) || m.exited === true);
    },
    async infer(batch) {
      let k = -1;
      // A worker that died while idle is known by its exit, not only by failing the next batch
      // (whose messages the consumer would then dead-letter).
      const usable = (i: number): boolean => !dead.has(i) && members[i].exited !== true;
      for (let i = 0; i < members.length; i++) if (usable(i) && (k < 0 || outstanding[i] < outstanding[k])) k = i;
      if (k < 0) throw lastDeath ?? new LivetagError('LT_WORKER_EXITED', 'every inference worker of the pool has exited');
      outstanding[k]++;
      try {
        return await members[k].infer(batch);
      } catch (err) {
        if (isLivetagError(err, 'LT_WORKER_EXITED')) {
          dead.add(k);
          lastDeath = err;
        }
        throw err;
      } finally {
        outstanding[k]--;
      }
    },
    stop: () => (stopping ??= Promise.all(members.map((m) => m.stop())).then(() => undefined)),
  };
}

export async function createModelRunner(model: Uint8Array, opts: ModelRunnerOptions = {}): Promise<ModelRunner> {
  if (opts.worker === false) return inlineRunner(await createOrtRunner(model, opts));
  const sessions = Math.max(1, opts.sessions ?? 1);
  if (sessions === 1) return createWorkerRunner(model, opts);
  const threads = Math.max(1, Math.floor((opts.threads || availableParallelism()) / sessions));
  const members = await Promise.allSettled(Array.from({ length: sessions }, () => createWorkerRunner(model, { ...opts, threads })));
  const failed = members.find((m): m is PromiseRejectedResult => m.status === 'rejected');
  const started = members.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
  if (failed) {
    await Promise.all(started.map((m) => m.stop()));
    throw failed.reason;
  }
  return createRunnerPool(started);
}
