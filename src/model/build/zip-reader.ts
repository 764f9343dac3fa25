import { inflateRawSync } from 'node:zlib';
import { importError } from './checkpoint-tensor.ts';

/**
 * The part of the zip format PyTorch's checkpoints use: the central
 * directory (zip64 included, for checkpoints over 4 GiB), entries stored or
 * deflated. Every offset and size is checked against the file before it is
 * used, and a deflated entry is never inflated past its declared size.
 */
export interface ZipEntry {
  readonly name: string;
  read(): Uint8Array;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

export function readZipDirectory(buf: Uint8Array, where: string): Map<string, ZipEntry> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const fail = (msg: string): never => importError(`${where}: zip ${msg}`);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('has no end-of-central-directory record');
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if ((count === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 && view.getUint32(eocd - 20, true) === EOCD64_LOCATOR) {
    const at = safe(view.getBigUint64(eocd - 12, true), fail);
    if (at + 56 > buf.length || view.getUint32(at, true) !== EOCD64) fail('zip64 record is missing');
    count = safe(view.getBigUint64(at + 32, true), fail);
    cdSize = safe(view.getBigUint64(at + 40, true), fail);
    cdOffset = safe(view.getBigUint64(at + 48, true), fail);
  }
  if (cdOffset + cdSize > buf.length || count > cdSize / 46) fail(`central directory (${count} entries at ${cdOffset}) does not fit the file`);
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || view.getUint32(p, true) !== CENTRAL) fail(`central directory entry ${i} is damaged`);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen > buf.length) fail(`central directory entry ${i} runs past the file`);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
    const sizes = zip64Sizes(view, p, p + 46 + nameLen, extraLen);
    const method = view.getUint16(p + 10, true);
    entries.set(name, { name, read: () => readEntry(buf, view, name, method, sizes, fail) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

interface EntrySizes {
  compressed: number;
  size: number;
  local: number;
}

function safe(v: bigint, fail: (m: string) => never): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`field ${v} is impossibly large`) : Number(v);
}

function zip64Sizes(view: DataView, entry: number, extra: number, extraLen: number): EntrySizes {
  const out = { size: view.getUint32(entry + 24, true), compressed: view.getUint32(entry + 20, true), local: view.getUint32(entry + 42, true) };
  for (let q = extra; q + 4 <= extra + extraLen; ) {
    const id = view.getUint16(q, true);
    const len = view.getUint16(q + 2, true);
    if (id === 0x0001) {
      let f = q + 4;
      const next = (): number => {
        if (f + 8 > q + 4 + len || f + 8 > view.byteLength) return 0xffffffff;
        const v = view.getBigUint64(f, true);
        f += 8;
        return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
      };
      if (out.size === 0xffffffff) out.size = next();
      if (out.compressed === 0xffffffff) out.compressed = next();
      if (out.local === 0xffffffff) out.local = next();
    }
    q += 4 + len;
  }
  return out;
}

function readEntry(buf: Uint8Array, view: DataView, name: string, method: number, s: EntrySizes, fail: (m: string) => never): Uint8Array {
  if (s.local + 30 > buf.length || view.getUint32(s.local, true) !== LOCAL) fail(`entry ${name}: local header is missing`);
  const start = s.local + 30 + view.getUint16(s.local + 26, true) + view.getUint16(s.local + 28, true);
  if (start + s.compressed > buf.length) fail(`entry ${name}: ${s.compressed} bytes at ${start} run past the file`);
  const raw = buf.subarray(start, start + s.compressed);
  if (method === 0) {
    if (s.size !== s.compressed) fail(`entry ${name}: stored entry with two sizes`);
    return raw;
  }
  if (method !== 8) fail(`entry ${name}: compression method ${method} is not supported`);
  let out: Buffer;
  try {
    out = inflateRawSync(raw, { maxOutputLength: Math.max(1, s.size) });
  } catch (cause) {
    return fail(`entry ${name}: does not inflate within its declared ${s.size} bytes (${(cause as Error).message})`);
  }
  return out.length === s.size ? out : fail(`entry ${name}: inflates to ${out.length} bytes, declared ${s.size}`);
}
