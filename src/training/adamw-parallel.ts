/**
 * AdamW on two threads. The training graph keeps both cores busy, but the
 * update after it ran on one: 35% of a bert-base step. Here the main thread
 * sums the global norm, then updates one half of the tensors while a worker
 * updates the other. The worker's weights, moments and gradients move to it
 * and back by transfer (no copies); onnxruntime-node refuses inputs backed
 * by a SharedArrayBuffer, so sharing them is not an option. Small models
 * stay on one thread, where a message round trip would cost more than it saves,
 * and so does a model whose parameters one tensor dominates.
 */
import { Worker } from 'node:worker_threads';
import { LivetagError } from '../common/errors.ts';
import { adamwSettings, adamwUpdate, createArrayAdamW, globalNorm, stepConstants, updateTensors } from './adamw-arrays.ts';
import type { AdamWOptions } from './optimizer.ts';

interface WorkerItem {
  readonly name: string;
  readonly w: Float32Array;
  readonly g: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly decay: number;
}

type WorkerReply = { readonly items: readonly Omit<WorkerItem, 'g' | 'decay'>[] } | { readonly error: string };

export interface ParallelAdamW {
  step: number;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
  /** Which thread count this optimizer uses (1 below `parallelFrom` parameters). */
  readonly threads: 1 | 2;
  /**
   * Updates `weights` from `grads`; returns the pre-clip global norm. The
   * worker's tensors come back in new arrays, set into `weights` and the
   * moment maps: read them from the maps after this resolves.
   */
  apply(weights: Map<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Below this many parameters one thread wins: the update stays in cache and
 * a round trip to the worker costs more than half of it (the small default
 * model, 0.8M parameters: 4.1 ms on one thread, 5.7 on two). bert-base,
 * 110M and bound by memory: 664 → 435 ms on two.
 */
export const PARALLEL_FROM = 1 << 23;

/** Halves further apart than this (one tensor dominating, like the n-gram table) gain nothing from a second thread. */
const MAX_SHARE = 0.65;

/**
 * The worker is plain JavaScript around adamwUpdate's own source: the update
 * is a closure-free function, so the worker runs the very code the main
 * thread runs without booting a TypeScript loader in a second isolate (which
 * cost bert-base ~180 MB of peak RSS).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const adamwUpdate = ${adamwUpdate.toString()};
parentPort.on('message', (msg) => {
  try {
    for (const it of msg.items) adamwUpdate(it.w, it.g, it.m, it.v, msg.k, it.decay);
    const items = msg.items.map(({ name, w, m, v }) => ({ name, w, m, v }));
    parentPort.postMessage({ items }, items.flatMap((it) => [it.w.buffer, it.m.buffer, it.v.buffer]));
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message) });
  }
});`;

/** Largest first onto the lighter side: the worker's share of the parameters, as close to half as the tensors allow. */
export function splitHalves(shapes: ReadonlyMap<string, number>): Set<string> {
  const worker = new Set<string>();
  let mine = 0;
  let theirs = 0;
  for (const [name, size] of [...shapes].sort((a, b) => b[1] - a[1])) {
    if (theirs <= mine) {
      worker.add(name);
      theirs += size;
    } else mine += size;
  }
  return worker;
}

/** A transferable array: its own whole buffer (onnxruntime's outputs are), else a copy. */
const own = (a: Float32Array): Float32Array => (a.byteOffset === 0 && a.buffer.byteLength === a.byteLength && !(a.buffer instanceof SharedArrayBuffer) ? a : a.slice());

/** `sparseRows` as createArrayAdamW's; those tensors stay on the main thread. */
export function createParallelAdamW(shapes: ReadonlyMap<string, number>, opts: AdamWOptions, parallelFrom = PARALLEL_FROM, sparseRows: ReadonlyMap<string, number> = new Map()): ParallelAdamW {
  const total = [...shapes.values()].reduce((a, b) => a + b, 0);
  const single = createArrayAdamW(shapes, opts, sparseRows);
  const theirs = splitHalves(new Map([...shapes].filter(([n]) => !sparseRows.has(n))));
  const share = [...theirs].reduce((a, n) => a + shapes.get(n)!, 0) / Math.max(1, total);
  if (total < parallelFrom || Math.max(share, 1 - share) > MAX_SHARE) {
    return {
      get step() {
        return single.step;
      },
      set step(s) {
        single.step = s;
      },
      m: single.m,
      v: single.v,
      threads: 1,
      apply: async (weights, grads, lr) => single.apply(weights, grads, lr),
      close: async () => undefined,
    };
  }
  const settings = adamwSettings(opts);
  const { m, v } = single;
  let worker: Worker | undefined;
  let failure: Error | undefined;
  let waiting: ((reply: WorkerReply) => void) | undefined;
  const fail = (err: Error): void => {
    failure = new LivetagError('LT_TRAINING', `AdamW worker failed: ${err.message}`, { cause: err });
    waiting?.({ error: failure.message });
  };
  const start = (): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (reply: WorkerReply) => waiting?.(reply));
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    w.unref();
    return w;
  };
  const state: ParallelAdamW = {
    step: 0,
    m,
    v,
    threads: 2,
    async apply(weights, grads, lr) {
      if (failure) throw failure;
      const norm = globalNorm(grads);
      state.step += 1;
      const k = stepConstants(settings, state.step, lr, norm);
      const items: WorkerItem[] = [];
      for (const [name, g] of grads) {
        if (!theirs.has(name)) continue;
        items.push({ name, w: weights.get(name)!, g: own(g), m: m.get(name)!, v: v.get(name)!, decay: settings.decayOf(name) });
      }
      worker ??= start();
      // Held only while a reply is due: an idle optimizer never keeps the process alive.
      worker.ref();
      const reply = new Promise<WorkerReply>((resolve) => (waiting = resolve));
      worker.postMessage({ k, items }, items.flatMap((it) => [it.w.buffer, it.g.buffer, it.m.buffer, it.v.buffer] as ArrayBuffer[]));
      updateTensors(grads, { weights, m, v }, k, settings.decayOf, sparseRows, theirs);
      const back = await reply;
      waiting = undefined;
      worker?.unref();
      if ('error' in back) throw failure ?? new LivetagError('LT_TRAINING', `AdamW worker failed: ${back.error}`);
      for (const it of back.items) {
        weights.set(it.name, it.w);
        m.set(it.name, it.m);
        v.set(it.name, it.v);
      }
      return norm;
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (!w) return;
      w.removeAllListeners('exit');
      await w.terminate();
    },
  };
  return state;
}
