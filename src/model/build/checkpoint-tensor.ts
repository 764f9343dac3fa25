import { readFile, stat } from 'node:fs/promises';
import { LivetagError } from '../../common/errors.ts';

/** Element types of real checkpoints, named as safetensors names them (PyTorch storages map onto these). */
export const DTYPE_BYTES = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const);

export type Dtype = keyof typeof DTYPE_BYTES;

export function isDtype(v: unknown): v is Dtype {
  return typeof v === 'string' && Object.hasOwn(DTYPE_BYTES, v);
}

export function isFloatDtype(d: Dtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/**
 * One tensor of a checkpoint, read lazily: the file was validated when it was
 * opened, so decode() only allocates what the header proved the file holds.
 */
export interface CheckpointTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  decode(): Float32Array;
}

export const importError = (msg: string): never => {
  throw new LivetagError('LT_HF_IMPORT', msg);
};

/** Node reads at most 2^31 − 1 bytes in one call. */
export const MAX_WEIGHT_FILE_BYTES = 2 ** 31 - 1;

/** A weight file whole, or LT_HF_IMPORT naming the way out when it is too large to read at once. */
export async function readWeightFile(path: string): Promise<Buffer> {
  const { size } = await stat(path);
  if (size > MAX_WEIGHT_FILE_BYTES) {
    return importError(`${path}: ${size} bytes, over the 2 GiB one file may hold here; save the checkpoint in shards (save_pretrained(dir, max_shard_size="1GB")) and import the folder with its index`);
  }
  return readFile(path);
}

/** Element count of a shape, refusing what is not a list of non-negative safe integers or overflows. */
export function elementCount(shape: unknown, where: string): number {
  if (!Array.isArray(shape) || shape.length > 16) return importError(`${where}: shape ${JSON.stringify(shape)} is not a list of at most 16 dimensions`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return importError(`${where}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
    n *= d;
    if (!Number.isSafeInteger(n)) return importError(`${where}: shape ${JSON.stringify(shape)} is too large`);
  }
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

const bf16 = new DataView(new ArrayBuffer(4));

function readElement(view: DataView, dtype: Dtype, at: number): number {
  switch (dtype) {
    case 'F64': return view.getFloat64(at, true);
    case 'F32': return view.getFloat32(at, true);
    case 'F16': return halfToFloat(view.getUint16(at, true));
    case 'BF16':
      bf16.setUint32(0, view.getUint16(at, true) << 16);
      return bf16.getFloat32(0);
    case 'I64': return Number(view.getBigInt64(at, true));
    case 'U64': return Number(view.getBigUint64(at, true));
    case 'I32': return view.getInt32(at, true);
    case 'U32': return view.getUint32(at, true);
    case 'I16': return view.getInt16(at, true);
    case 'U16': return view.getUint16(at, true);
    case 'I8': return view.getInt8(at);
    case 'U8': return view.getUint8(at);
    case 'BOOL': return view.getUint8(at) === 0 ? 0 : 1;
  }
}

/**
 * Gathers a (possibly strided, offset) view of `bytes` into float32. Callers
 * have checked that every index it touches lies inside `bytes`.
 */
export function gatherFloat32(bytes: Uint8Array, dtype: Dtype, shape: readonly number[], strides: readonly number[], offset: number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  if (count === 0) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = DTYPE_BYTES[dtype];
  const contiguous = contiguousStrides(shape).every((s, i) => shape[i] <= 1 || s === strides[i]);
  if (contiguous) {
    for (let i = 0; i < count; i++) out[i] = readElement(view, dtype, (offset + i) * width);
    return out;
  }
  const index = new Array<number>(shape.length).fill(0);
  let src = offset;
  for (let i = 0; i < count; i++) {
    out[i] = readElement(view, dtype, src * width);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++;
      src += strides[d];
      if (index[d] < shape[d]) break;
      src -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
