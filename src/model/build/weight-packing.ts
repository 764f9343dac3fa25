/**
 * Weight transforms for the serving graphs: half precision, int8
 * quantization, and the packed layouts onnxruntime's fused operators read.
 */
import type { WeightTensor } from '../weights.ts';
import { INT8_WEIGHT_MAX } from '../manifest.ts';

/** IEEE 754 binary16 bits, round to nearest even; overflow saturates to ±Inf as a cast would. */
export function float32ToFloat16Bits(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/**
 * Weights quantize to ±64 (onnxruntime's `reduce_range`), not ±127. On x86
 * CPUs without VNNI (AVX2, AVX-512F) MLAS multiplies uint8 activations by
 * int8 weights with vpmaddubsw, which adds two products into a saturating
 * int16: 2 × 255 × 127 overflows it, 2 × 255 × 64 does not. Full-range
 * weights gave a tiny model's logits 0.25 off on such a CPU (0.045 where VNNI
 * is), and a variant chosen on one machine is served on others.
 */
const WEIGHT_QMAX = INT8_WEIGHT_MAX;

/**
 * Symmetric per-column int8 quantization of a [in, out] matrix: one scale per
 * output column (max |w| / WEIGHT_QMAX), zero point 0, as onnxruntime's dynamic
 * quantization does for weights with reduce_range.
 */
export function quantizeColumns(w: WeightTensor): { data: Int8Array; scales: Float32Array } {
  const [rows, cols] = w.shape;
  const scales = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) scales[c] = Math.max(scales[c], Math.abs(w.data[r * cols + c]));
  for (let c = 0; c < cols; c++) scales[c] = scales[c] > 0 ? scales[c] / WEIGHT_QMAX : 1;
  const data = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] = Math.max(-WEIGHT_QMAX, Math.min(WEIGHT_QMAX, Math.round(w.data[r * cols + c] / scales[c])));
  }
  return { data, scales };
}

/** Concatenates the transposes of [out, in] matrices column-wise: [in, sum(out)]. */
export function packTransposed(mats: WeightTensor[]): WeightTensor {
  const inp = mats[0].shape[1];
  const outs = mats.map((m) => m.shape[0]);
  const total = outs.reduce((a, b) => a + b, 0);
  const data = new Float32Array(inp * total);
  let col = 0;
  for (const m of mats) {
    const out = m.shape[0];
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) data[i * total + col + o] = m.data[o * inp + i];
    col += out;
  }
  return { shape: [inp, total], data };
}

export function concatVectors(vectors: WeightTensor[]): WeightTensor {
  const data = new Float32Array(vectors.reduce((a, v) => a + v.data.length, 0));
  let at = 0;
  for (const v of vectors) {
    data.set(v.data, at);
    at += v.data.length;
  }
  return { shape: [data.length], data };
}
