/**
 * Row gradients (a table's gradient as the rows a batch gathered, see
 * RowGradient in the training graph's tape) summed per row, as the graph's
 * dense ScatterND would have summed them: in gather order, each add rounded
 * to float32, so a row comes out with the same bits either way.
 *
 * Rows whose width is a multiple of 4 (the word table's hidden size) are
 * summed by a WebAssembly SIMD kernel, four floats an instruction: a small
 * model's word gradient (~1,000 positions × 128) took ~300 µs a step in the
 * JS loop, 3% of the step, and ~65 µs there. It adds in the same order with
 * the same float32 roundings, so both paths give the same bits (tested);
 * micro-batches' scaled adds stay in JS, on the same sums.
 */
import { get, I32, i32Const, instantiate, kernelModule, lazyKernel, load, PAGE, set, simd, store, type WasmMemory } from './wasm-simd.ts';

/** The distinct rows a batch touched and each one's summed gradient (`width` floats a row). */
export interface SummedRows {
  readonly rows: Int32Array;
  readonly values: Float32Array;
  readonly width: number;
}

export interface RowSum {
  /** Where the adds run. */
  readonly kernel: 'wasm SIMD' | 'JS';
  /** One run's outputs: `ids` (int64, one per gathered position) and `grads` (`width` floats per id), scaled by `scale`. */
  add(ids: BigInt64Array, grads: Float32Array, scale: number): void;
  /** The sums so far; the views stay valid until the next add or reset. */
  result(): SummedRows;
  /** Forgets every row, for the next step (the arrays are kept). */
  reset(): void;
}

/** `useWasm: false` keeps the JS loop (the fallback, and the kernel's reference in tests). */
export function createRowSum(width: number, opts: { readonly useWasm?: boolean } = {}): RowSum {
  const module = opts.useWasm !== false && width % 4 === 0 ? kernel() : null;
  return module ? wasmRowSum(width, module) : jsRowSum(width);
}

/** Table row → slot in the sums, in first-seen order. */
function createSlots(): { readonly map: Map<number, number>; rows: Int32Array; slotOf(row: number): number } {
  const map = new Map<number, number>();
  const slots = {
    map,
    rows: new Int32Array(1024),
    slotOf(row: number): number {
      let s = map.get(row);
      if (s === undefined) {
        s = map.size;
        map.set(row, s);
        if (s === slots.rows.length) slots.rows = grow(slots.rows, s * 2);
        slots.rows[s] = row;
      }
      return s;
    },
  };
  return slots;
}

/**
 * sum[at ..] += grads[from ..] · scale, each product and add rounded to float32 (the scale
 * is a double: a micro-batch's share). A scale of 1 leaves a float32 as it is, so skipping
 * the product changes no bit.
 */
function addRow(sum: Float32Array, at: number, grads: Float32Array, from: number, width: number, scale: number): void {
  const f = Math.fround;
  if (scale === 1) for (let j = 0; j < width; j++) sum[at + j] = f(sum[at + j] + grads[from + j]);
  else for (let j = 0; j < width; j++) sum[at + j] = f(sum[at + j] + f(grads[from + j] * scale));
}

function jsRowSum(width: number): RowSum {
  const slots = createSlots();
  let values = new Float32Array(1024 * width);
  return {
    kernel: 'JS',
    add(ids, grads, scale) {
      for (let i = 0; i < ids.length; i++) {
        const s = slots.slotOf(Number(ids[i]));
        if ((s + 1) * width > values.length) values = grow(values, values.length * 2);
        addRow(values, s * width, grads, i * width, width, scale);
      }
    },
    result: () => ({ rows: slots.rows.subarray(0, slots.map.size), values: values.subarray(0, slots.map.size * width), width }),
    reset() {
      values.fill(0, 0, slots.map.size * width);
      slots.map.clear();
    },
  };
}

/**
 * (sums, idx, n, src, rowBytes: byte addresses and sizes)
 *   for i < n: sums[idx[i] .. + rowBytes] += src[i·rowBytes ..]
 * idx holds each position's byte offset of its row in the sums.
 */
function rowSumModule(): Uint8Array {
  const add = simd(0xe4);
  const [SUMS, IDX, N, SRC, ROW, I, J, DST] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i32Add = 0x6a;
  const body = [
    0x02, 0x40, 0x03, 0x40, // block, loop over positions
    ...get(I), ...get(N), 0x4f /* i32.ge_u */, 0x0d, 1,
    ...get(SUMS), ...get(IDX), ...get(I), ...i32Const(2), 0x74 /* i32.shl */, i32Add, 0x28, 2, 0 /* i32.load */, i32Add, ...set(DST),
    ...i32Const(0), ...set(J),
    0x02, 0x40, 0x03, 0x40, // block, loop over the row
    ...get(J), ...get(ROW), 0x4f, 0x0d, 1,
    ...get(DST), ...get(J), i32Add,
    ...get(DST), ...get(J), i32Add, ...load,
    ...get(SRC), ...get(J), i32Add, ...load,
    ...add, ...store,
    ...get(J), ...i32Const(16), i32Add, ...set(J),
    0x0c, 0, 0x0b, 0x0b,
    ...get(SRC), ...get(ROW), i32Add, ...set(SRC),
    ...get(I), ...i32Const(1), i32Add, ...set(I),
    0x0c, 0, 0x0b, 0x0b,
  ];
  return kernelModule({ name: 'rowsum', params: [I32, I32, I32, I32, I32], locals: [[3, I32]], body });
}

const kernel = lazyKernel(rowSumModule);

/**
 * Memory: the sums from address 0 (a region that only grows, so the rows
 * summed so far never move), then each add's scratch: the positions' row
 * offsets and a copy of its gradients.
 */
function wasmRowSum(width: number, module: object): RowSum {
  const slots = createSlots();
  const rowBytes = width * 4;
  let capacity = 1024;
  let offsets = new Int32Array(1024);
  const { memory, run } = instantiate(module, capacity * rowBytes, 'rowsum');
  const ensure = (bytes: number): WasmMemory => {
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
    return memory;
  };
  return {
    kernel: 'wasm SIMD',
    add(ids, grads, scale) {
      const n = ids.length;
      if (n > offsets.length) offsets = new Int32Array(n * 2);
      const before = slots.map.size;
      for (let i = 0; i < n; i++) offsets[i] = slots.slotOf(Number(ids[i])) * rowBytes;
      const rows = slots.map.size;
      if (rows > capacity) capacity = Math.max(rows, capacity * 2);
      const idxAt = capacity * rowBytes;
      const srcAt = idxAt + Math.ceil((n * 4) / 16) * 16;
      const { buffer } = ensure(srcAt + n * rowBytes);
      // New rows start from zero: the region past the old ones held an earlier add's scratch.
      new Float32Array(buffer, before * rowBytes, (rows - before) * width).fill(0);
      if (scale !== 1) {
        // A micro-batch's share is a double; the kernel's float32 product would round differently.
        const sums = new Float32Array(buffer, 0, rows * width);
        for (let i = 0; i < n; i++) addRow(sums, offsets[i] / 4, grads, i * width, width, scale);
        return;
      }
      new Int32Array(buffer, idxAt, n).set(offsets.subarray(0, n));
      new Float32Array(buffer, srcAt, n * width).set(grads.subarray(0, n * width));
      run(0, idxAt, n, srcAt, rowBytes);
    },
    result: () => ({ rows: slots.rows.subarray(0, slots.map.size), values: new Float32Array(memory.buffer, 0, slots.map.size * width), width }),
    reset: () => slots.map.clear(),
  };
}

function grow<A extends Int32Array | Float32Array>(a: A, size: number): A {
  const out = new (a.constructor as new (n: number) => A)(size);
  out.set(a);
  return out;
}
