import { readFile } from 'node:fs/promises';
import { LivetagError } from '../../common/errors.ts';
import type { WeightTensor } from '../weights.ts';

/**
 * safetensors: 8-byte little-endian header length, a JSON header of
 * {name: {dtype, shape, data_offsets}}, then the raw bytes. Everything is
 * widened to float32, which is what the ONNX graph and the trainer use.
 */
export async function readSafetensors(path: string): Promise<Map<string, WeightTensor>> {
  const buf = await readFile(path);
  if (buf.length < 8) throw new LivetagError('LT_HF_IMPORT', `${path}: too short to be safetensors`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen <= 0 || 8 + headerLen > buf.length) {
    throw new LivetagError('LT_HF_IMPORT', `${path}: header length ${headerLen} does not fit the file`);
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (cause) {
    throw new LivetagError('LT_HF_IMPORT', `${path}: header is not JSON`, { cause });
  }
  const base = 8 + headerLen;
  const out = new Map<string, WeightTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const bytes = buf.subarray(base + start, base + end);
    const size = info.shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape: info.shape, data: toFloat32(name, info.dtype, bytes, size) });
  }
  return out;
}

function toFloat32(name: string, dtype: string, bytes: Buffer, size: number): Float32Array {
  const out = new Float32Array(size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = { F32: 4, F16: 2, BF16: 2 }[dtype];
  if (need === undefined) {
    throw new LivetagError('LT_HF_IMPORT', `tensor ${name}: dtype ${dtype} is not supported (F32, F16, BF16 are)`);
  }
  if (bytes.length !== size * need) {
    throw new LivetagError('LT_HF_IMPORT', `tensor ${name}: ${bytes.length} bytes for ${size} ${dtype} values`);
  }
  if (dtype === 'F32') for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F16') for (let i = 0; i < size; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  else {
    const tmp = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < size; i++) {
      tmp.setUint32(0, view.getUint16(i * 2, true) << 16);
      out[i] = tmp.getFloat32(0);
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

/** Writes float32 tensors as safetensors (used by tests to make checkpoint variants). */
export function encodeSafetensors(
  tensors: Map<string, WeightTensor>,
  dtype: 'F32' | 'F16' | 'BF16' = 'F32',
): Buffer {
  const width = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of tensors) {
    const len = t.data.length * width;
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  const f32 = new DataView(new ArrayBuffer(4));
  for (const t of tensors.values()) {
    for (const v of t.data) {
      if (dtype === 'F32') out.writeFloatLE(v, pos);
      else if (dtype === 'BF16') {
        f32.setFloat32(0, v);
        out.writeUInt16LE(f32.getUint32(0) >>> 16, pos);
      } else out.writeUInt16LE(floatToHalf(v), pos);
      pos += width;
    }
  }
  return out;
}

export function floatToHalf(v: number): number {
  const f32 = new DataView(new ArrayBuffer(4));
  f32.setFloat32(0, v);
  const x = f32.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  const r = sign | (exp << 10) | (mant >> 13);
  return mant & 0x1000 ? r + 1 : r;
}
