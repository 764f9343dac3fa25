/**
 * Picks the TensorFlow.js backend the trainer runs on. Native TensorFlow
 * (tfjs-node-gpu, then tfjs-node) wins when its binding loads; both are
 * optional dependencies whose install downloads libtensorflow, so offline
 * machines end up without them. Then wasm (XNNPACK, SIMD, single-threaded
 * under Node), patched so backpropagation works and stays on its fast path,
 * and last the pure-JS cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
// The union package registers every op's gradient (tfjs-core alone registers none)
// and the cpu backend, into registries shared through the global namespace.
import '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LivetagError } from '../common/errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  readonly name: BackendName;
  /** Which package provided it, e.g. '@tensorflow/tfjs-node-gpu'. */
  readonly source: string;
  readonly simd?: boolean;
  readonly threads?: boolean;
  /** Why faster options were not used, for the log line. */
  readonly skipped: readonly string[];
}

const require = createRequire(import.meta.url);
let active: BackendInfo | undefined;

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 160);
}

async function tryNative(pkg: string): Promise<boolean> {
  // A computed specifier keeps TypeScript from resolving an optional package.
  const specifier: string = pkg;
  await import(specifier);
  return tf.setBackend('tensorflow');
}

/**
 * The embedding gradient (Gather's) is an UnsortedSegmentSum, which the wasm
 * backend does not implement. A JS kernel is enough: it runs once per step
 * over [tokens, hidden] values.
 */
function registerWasmSegmentSum(): void {
  if (tf.getKernel(tf.UnsortedSegmentSum, 'wasm')) return;
  tf.registerKernel({
    kernelName: tf.UnsortedSegmentSum,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = attrs as unknown as { numSegments: number };
      const wasm = backend as unknown as {
        readSync(id: object): Float32Array | Int32Array;
        makeOutput(shape: number[], dtype: string, offset: undefined, values: Float32Array): tf.TensorInfo;
      };
      const values = wasm.readSync(x.dataId) as Float32Array;
      const ids = wasm.readSync(segmentIds.dataId);
      const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = new Float32Array(numSegments * inner);
      for (let i = 0; i < ids.length; i++) {
        const seg = ids[i];
        if (seg < 0 || seg >= numSegments) continue;
        const src = i * inner;
        const dst = seg * inner;
        for (let j = 0; j < inner; j++) out[dst + j] += values[src + j];
      }
      return wasm.makeOutput([numSegments, ...x.shape.slice(1)], 'float32', undefined, out);
    },
  });
}

/**
 * tfjs-core's BatchMatMul gradient asks for products with a transposed operand;
 * XNNPACK only takes the plain layout, so wasm falls back to a naive loop that
 * is far slower. Transposing explicitly first keeps every backward product on XNNPACK.
 */
function registerExplicitTransposeMatMulGrad(): void {
  const t = (x: tf.Tensor): tf.Tensor => {
    const r = x.rank;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return tf.transpose(x, perm);
  };
  const mm = (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor => tf.matMul(ta ? t(a) : a, tb ? t(b) : b);
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      if (!transposeA && !transposeB) return { a: () => mm(g, b, false, true), b: () => mm(a, g, true, false) };
      if (!transposeA && transposeB) return { a: () => mm(g, b, false, false), b: () => mm(g, a, true, false) };
      if (transposeA && !transposeB) return { a: () => mm(b, g, false, true), b: () => mm(a, g, false, false) };
      return { a: () => mm(b, g, true, true), b: () => mm(g, a, true, true) };
    },
  });
}

async function tryWasm(): Promise<{ simd: boolean; threads: boolean }> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // The package looks for its .wasm files beside the page in browsers; under
  // Node they must be named from node_modules explicitly.
  const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  wasm.setWasmPaths(pathToFileURL(dist).href + '/');
  // Emscripten's runtime installs process handlers that rethrow every uncaught
  // error from inside its minified glue (printing one enormous line); they serve
  // no purpose for a library, so they are removed again.
  const before = {
    uncaughtException: new Set(process.listeners('uncaughtException')),
    unhandledRejection: new Set(process.listeners('unhandledRejection')),
  };
  const ok = await tf.setBackend('wasm');
  for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
  if (!ok) throw new Error('wasm backend failed to initialise');
  registerWasmSegmentSum();
  registerExplicitTransposeMatMulGrad();
  return {
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
  };
}

/** Initialises the backend once per process and says which one runs and why. */
export async function initTfBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active) return active;
  const skipped: string[] = [];
  const natives: Array<[BackendChoice, string]> = [
    ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
    ['tensorflow', '@tensorflow/tfjs-node'],
  ];
  for (const [name, pkg] of natives) {
    if (choice !== 'auto' && choice !== name) continue;
    try {
      if (await tryNative(pkg)) return (active = { name: 'tensorflow', source: pkg, skipped });
      skipped.push(`${pkg}: backend did not initialise`);
    } catch (err) {
      skipped.push(`${pkg}: ${firstLine(err)}`);
    }
    if (choice === name) throw new LivetagError('LT_TRAINING', `backend ${name} unavailable: ${skipped.at(-1)}`);
  }
  if (choice === 'auto' || choice === 'wasm') {
    try {
      const { simd, threads } = await tryWasm();
      return (active = { name: 'wasm', source: '@tensorflow/tfjs-backend-wasm', simd, threads, skipped });
    } catch (err) {
      skipped.push(`@tensorflow/tfjs-backend-wasm: ${firstLine(err)}`);
      if (choice === 'wasm') throw new LivetagError('LT_TRAINING', `backend wasm unavailable: ${skipped.at(-1)}`);
    }
  }
  await tf.setBackend('cpu');
  return (active = { name: 'cpu', source: '@tensorflow/tfjs-backend-cpu', skipped });
}

export function describeBackend(b: BackendInfo): string {
  const flags = b.name === 'wasm' ? ` (SIMD ${b.simd ? 'on' : 'off'}, threads ${b.threads ? 'on' : 'off'})` : '';
  const why = b.skipped.length > 0 ? `; not used: ${b.skipped.join('; ')}` : '';
  return `tfjs backend ${b.name} from ${b.source}${flags}${why}`;
}

export { tf };
