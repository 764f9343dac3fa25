/**
 * Dropout masks for a training graph's mask inputs
 * (src/model/build/dropout-sites.ts): each element 0 with probability
 * `ratio`, else 1/(1−ratio), from four xorshift32 streams seeded per step, so
 * a step's masks follow from its seed alone (a resumed run draws the same).
 * Each draw gives two 16-bit halves (the ratio is honoured to 1/65536), eight
 * elements per round of the four streams. One WebAssembly SIMD function runs
 * the four lanes at once, ~5× the JS loop it replaced (a small model's masks
 * took 5% of its training step); the same loop in JS, bit for bit, stays
 * where the runtime lacks wasm SIMD.
 */
import { LivetagError } from '../common/errors.ts';
import type { DropoutSite } from '../model/build/dropout-sites.ts';
import type { Feed } from '../model/runtime/graph-session.ts';
import { F32, get, I32, i32Const, instantiate, kernelModule, lazyKernel, load, PAGE, set, simd, store, V128 } from './wasm-simd.ts';

export interface DropoutMasks {
  /** What fills them: 'wasm SIMD', or 'JS' where the runtime lacks it (or it was turned off). */
  readonly kernel: string;
  /** Mask feeds for one run: `dims` gives each symbolic dim ('batch', 'sequence') its size. */
  feeds(ratio: number, seed: number, dims: Readonly<Record<string, number>>): Record<string, Feed>;
}

/** A non-zero xorshift state from any integer seed (a murmur3 finalizer spreads nearby seeds apart). */
/**
 * The mask seed of micro-batch `offset` of a step: (stepSeed · 1009 + offset) mod 2^32, exact for
 * any step seed a float64 holds exactly (the product itself passes 2^53 from --seed ~2.2 M on, and
 * rounding there gave neighbouring micro-batches, and the four lanes, the same masks).
 */
export function microBatchSeed(stepSeed: number, offset: number): number {
  return ((stepSeed % 2 ** 32) * 1009 + offset) % 2 ** 32;
}

function initialState(seed: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return h === 0 ? 0x6d2b79f5 : h;
}

/** Bytes of the four lane states at the arena's start. */
const STATE_BYTES = 16;
/** Elements per round of the four lanes: each site's buffer is a multiple of it. */
const ROUND = 8;

/**
 * masks(ptr, bytes, threshold, kept): the four lane states at address 0 step
 * through `bytes` / 32 rounds; round r writes 8 floats at ptr + 32r: lane k's
 * low half at k, its high half at 4 + k, each 0 below `threshold` else `kept`.
 */
function masksModule(): Uint8Array {
  const [PTR, BYTES, THRESHOLD, KEPT, X, THR, KEEP, LOW, I] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i32Splat, f32Splat, and, andnot, xor, ltU, shl, shrU] = [0x11, 0x13, 0x4e, 0x4f, 0x51, 0x3a, 0xab, 0xad].map((op) => simd(op));
  const xorShifted = (shift: number[], by: number): number[] => [...get(X), ...get(X), ...i32Const(by), ...shift, ...xor, ...set(X)];
  const at = (extra: number): number[] => [...get(PTR), ...get(I), 0x6a, ...i32Const(extra), 0x6a];
  const body = [
    ...i32Const(0), ...load, ...set(X),
    ...get(THRESHOLD), ...i32Splat, ...set(THR),
    ...get(KEPT), ...f32Splat, ...set(KEEP),
    ...i32Const(0xffff), ...i32Splat, ...set(LOW),
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...get(I), ...get(BYTES), 0x4f /* i32.ge_u */, 0x0d, 1, // br_if out
    ...xorShifted(shl, 13), ...xorShifted(shrU, 17), ...xorShifted(shl, 5),
    ...at(0), ...get(KEEP), ...get(X), ...get(LOW), ...and, ...get(THR), ...ltU, ...andnot, ...store,
    ...at(16), ...get(KEEP), ...get(X), ...i32Const(16), ...shrU, ...get(THR), ...ltU, ...andnot, ...store,
    ...get(I), ...i32Const(32), 0x6a, ...set(I),
    0x0c, 0, 0x0b, 0x0b, // br loop, end loop, end block
    ...i32Const(0), ...get(X), ...store,
  ];
  return kernelModule({ name: 'masks', params: [I32, I32, I32, F32], locals: [[4, V128], [1, I32]], body });
}

/** masksModule's function in JS, bit for bit: `m` holds whole rounds, `lanes` the four states. */
export function fillMasks(m: Uint32Array, lanes: Uint32Array, threshold: number, kept: number): void {
  for (let i = 0; i < m.length; i += ROUND) {
    for (let k = 0; k < 4; k++) {
      let x = lanes[k];
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      lanes[k] = x;
      // Branch-free: the sign of (half − threshold) clears the kept bits of a dropped element.
      m[i + k] = kept & ~((((x & 0xffff) - threshold) | 0) >> 31);
      m[i + 4 + k] = kept & ~((((x >>> 16) - threshold) | 0) >> 31);
    }
  }
}

const kernel = lazyKernel(masksModule);

/** One arena: the lane states, then each site's masks; wasm memory when the runtime has SIMD. */
function createArena(useWasm: boolean): { kernel: string; bytes(n: number): ArrayBuffer; fill(ptr: number, bytes: number, threshold: number, kept: number): void } {
  const module = useWasm ? kernel() : null;
  if (module) {
    const { memory: mem, run } = instantiate(module, PAGE, 'masks');
    return {
      kernel: 'wasm SIMD',
      bytes(n) {
        if (n > mem.buffer.byteLength) mem.grow(Math.ceil((n - mem.buffer.byteLength) / PAGE));
        return mem.buffer;
      },
      fill: (ptr, bytes, threshold, kept) => run(ptr, bytes, threshold, kept),
    };
  }
  let buffer = new ArrayBuffer(PAGE);
  return {
    kernel: 'JS',
    bytes(n) {
      if (n > buffer.byteLength) {
        const grown = new ArrayBuffer(Math.max(n, buffer.byteLength * 2));
        new Uint8Array(grown).set(new Uint8Array(buffer, 0, STATE_BYTES));
        buffer = grown;
      }
      return buffer;
    },
    fill: (ptr, bytes, threshold, kept) =>
      fillMasks(new Uint32Array(buffer, ptr, bytes / 4), new Uint32Array(buffer, 0, 4), threshold, new Uint32Array(Float32Array.of(kept).buffer)[0]),
  };
}

/** `useWasm: false` runs the JS loop (the fallback, and the kernel's reference in tests). */
export function createDropoutMasks(sites: readonly DropoutSite[], opts: { readonly useWasm?: boolean } = {}): DropoutMasks {
  const arena = createArena(opts.useWasm !== false);
  return {
    kernel: arena.kernel,
    feeds(ratio, seed, dims) {
      if (!(ratio > 0 && ratio < 1)) throw new LivetagError('LT_TRAINING', `dropout ratio must be in (0, 1), got ${ratio}`);
      const layout = sites.map((site) => {
        const shape = site.shape.map((d) => {
          const size = typeof d === 'number' ? d : dims[d];
          if (size === undefined) throw new LivetagError('LT_INTERNAL', `dropout mask ${site.name}: no size for dim ${d}`);
          return size;
        });
        const size = shape.reduce((a, b) => a * b, 1);
        // Whole rounds: the kernel writes 8 floats at a time, past `size` into the site's own padding.
        return { site, shape, size, bytes: Math.ceil(size / ROUND) * ROUND * 4 };
      });
      // The graph reads the masks during the run; the next step refills them afterwards (runs never overlap).
      const buffer = arena.bytes(STATE_BYTES + layout.reduce((a, l) => a + l.bytes, 0));
      const lanes = new Uint32Array(buffer, 0, 4);
      // Only seed mod 2^32 reaches the lanes (initialState's ToInt32) anyway: reduced first, seed · 4 + k
      // stays exact, where a seed past 2^51 would round the four lanes onto one state.
      const base = (seed % 2 ** 32) * 4;
      for (let k = 0; k < 4; k++) lanes[k] = initialState(base + k);
      const threshold = Math.round(ratio * 65536);
      const kept = Math.fround(1 / (1 - ratio));
      const feeds: Record<string, Feed> = {};
      let ptr = STATE_BYTES;
      for (const { site, shape, size, bytes } of layout) {
        arena.fill(ptr, bytes, threshold, kept);
        feeds[site.name] = { type: 'float32', data: new Float32Array(buffer, ptr, size), dims: shape };
        ptr += bytes;
      }
      return feeds;
    },
  };
}
