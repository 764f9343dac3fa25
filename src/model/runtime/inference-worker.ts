import { parentPort, workerData } from 'node:worker_threads';
import { createOrtRunner, type SessionOptions } from './onnx-session.ts';
import type { EncodedBatch } from '../tokenizer.ts';

/**
 * onnxruntime-node runs a session synchronously on the calling thread; this
 * worker owns the session so the main thread's event loop (Kafka heartbeats,
 * HTTP probes) never waits for a batch.
 */
type Request = { id: number; batch: EncodedBatch } | { id: number; stop: true };

const port = parentPort!;
const { model, options } = workerData as { model: Uint8Array; options: Omit<SessionOptions, 'warn'> };
const warnings: string[] = [];
const runner = await createOrtRunner(model, { ...options, warn: (m) => warnings.push(m) });
port.postMessage({ ready: true, provider: runner.provider, warnings });

port.on('message', async (req: Request) => {
  if ('stop' in req) {
    await runner.release();
    port.postMessage({ id: req.id, stopped: true });
    port.close();
    return;
  }
  try {
    const logits = await runner.run(req.batch);
    port.postMessage({ id: req.id, logits }, [logits.buffer as ArrayBuffer]);
  } catch (err) {
    const e = err as Error & { code?: string; retryable?: boolean };
    port.postMessage({ id: req.id, error: { message: e.message, code: e.code, retryable: e.retryable } });
  }
});
