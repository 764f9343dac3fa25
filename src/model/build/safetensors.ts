import type { WeightTensor } from '../weights.ts';
import { DTYPE_BYTES, contiguousStrides, elementCount, gatherFloat32, importError, readWeightFile, isDtype, type CheckpointTensor, type Dtype } from './checkpoint-tensor.ts';

/** The format's own limit on the JSON header; a larger length is a lie, not a model. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * safetensors: 8-byte little-endian header length, a JSON header of
 * {name: {dtype, shape, data_offsets}}, then the raw bytes. The whole header
 * is checked before any tensor is allocated: every dtype known, every shape's
 * size equal to its byte range, and the ranges tiling the data exactly (as
 * the reference implementation demands), so a hostile header fails here with
 * the entry named instead of allocating what the file does not hold.
 */
export function parseSafetensors(buf: Uint8Array, where: string): CheckpointTensor[] {
  if (buf.length < 8) return importError(`${where}: too short to be safetensors (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared < 2n || declared > BigInt(Math.min(MAX_HEADER_BYTES, buf.length - 8))) {
    return importError(`${where}: header length ${declared} does not fit the file (${buf.length} bytes)`);
  }
  const headerLen = Number(declared);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (cause) {
    return importError(`${where}: header is not UTF-8 JSON (${(cause as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return importError(`${where}: header is not a JSON object`);
  const data = buf.subarray(8 + headerLen);
  const entries: { name: string; dtype: Dtype; shape: number[]; start: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    entries.push({ name, ...checkEntry(`${where}: tensor ${name}`, info, data.length) });
  }
  entries.sort((a, b) => a.start - b.start || a.end - b.end);
  let covered = 0;
  for (const e of entries) {
    if (e.start !== covered) {
      return importError(`${where}: tensor ${e.name} starts at byte ${e.start} but the previous tensor ends at ${covered} (ranges must not overlap or leave gaps)`);
    }
    covered = e.end;
  }
  if (covered !== data.length) return importError(`${where}: tensors cover ${covered} bytes, the file holds ${data.length} after the header`);
  return entries.map((e) => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    decode: () => gatherFloat32(data.subarray(e.start, e.end), e.dtype, e.shape, contiguousStrides(e.shape), 0),
  }));
}

function checkEntry(where: string, info: unknown, dataLength: number): { dtype: Dtype; shape: number[]; start: number; end: number } {
  if (typeof info !== 'object' || info === null) return importError(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (!isDtype(dtype)) return importError(`${where}: dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(DTYPE_BYTES).join(', ')}`);
  const count = elementCount(shape, where);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    return importError(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [start, end] = offsets as [number, number];
  if (start > end || end > dataLength) return importError(`${where}: data_offsets [${start}, ${end}] lie outside the ${dataLength} data bytes`);
  if ((end - start) !== count * DTYPE_BYTES[dtype]) {
    return importError(`${where}: shape [${(shape as number[]).join(',')}] of ${dtype} needs ${count * DTYPE_BYTES[dtype]} bytes, data_offsets give ${end - start}`);
  }
  return { dtype, shape: [...(shape as number[])], start, end };
}

export async function readSafetensorsTensors(path: string): Promise<CheckpointTensor[]> {
  return parseSafetensors(await readWeightFile(path), path);
}

/** Every tensor of a file widened to float32 (integer buffers too). */
export async function readSafetensors(path: string): Promise<Map<string, WeightTensor>> {
  const out = new Map<string, WeightTensor>();
  for (const t of await readSafetensorsTensors(path)) out.set(t.name, { shape: t.shape, data: t.decode() });
  return out;
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
