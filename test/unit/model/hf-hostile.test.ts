import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { parseSafetensors } from '../../../src/model/build/safetensors.ts';
import { parsePytorchCheckpoint } from '../../../src/model/build/pytorch-checkpoint.ts';
import { readPickle } from '../../../src/model/build/pickle-reader.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createRng } from '../../../src/common/rng.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/hf');
const safetensorsSeed = readFileSync(join(FIXTURES, 'safetensors-i64/model.safetensors'));
const zipSeed = readFileSync(join(FIXTURES, 'bin-zip-archive/pytorch_model.bin'));
const legacySeed = readFileSync(join(FIXTURES, 'bin-legacy-pretraining/pytorch_model.bin'));

function safetensorsWith(header: Record<string, unknown>, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

const rejects = (fn: () => unknown, pattern: RegExp): void =>
  assert.throws(fn, (e: unknown) => isLivetagError(e, 'LT_HF_IMPORT') && pattern.test(e.message), String(pattern));

test('safetensors headers that lie fail before allocating, naming the entry', () => {
  const before = process.memoryUsage().arrayBuffers;
  rejects(() => parseSafetensors(safetensorsWith({ w: { dtype: 'F32', shape: [1e5, 1e5], data_offsets: [0, 16] } }, 16), 'x'), /tensor w: shape \[100000,100000\] of F32 needs .* bytes, data_offsets give 16/);
  rejects(() => parseSafetensors(safetensorsWith({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } }, 16), 'x'), /too large/);
  rejects(() => parseSafetensors(safetensorsWith({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 1 << 30] } }, 16), 'x'), /lie outside the 16 data bytes/);
  rejects(() => parseSafetensors(safetensorsWith({ w: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, 16), 'x'), /not a non-negative integer/);
  rejects(() => parseSafetensors(safetensorsWith({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 16] } }, 16), 'x'), /not a non-negative integer/);
  rejects(() => parseSafetensors(safetensorsWith({ w: { dtype: 'Q4', shape: [4], data_offsets: [0, 16] } }, 16), 'x'), /dtype "Q4" is not one of/);
  rejects(() => parseSafetensors(safetensorsWith({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16), 'x'), /overlap or leave gaps/);
  rejects(() => parseSafetensors(safetensorsWith({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 16), 'x'), /cover 8 bytes, the file holds 16/);
  const huge = Buffer.from(safetensorsSeed);
  huge.writeBigUInt64LE(2n ** 62n, 0);
  rejects(() => parseSafetensors(huge, 'x'), /header length 4611686018427387904 does not fit the file/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'nothing large was allocated');
  // Every dtype real checkpoints use decodes.
  const all = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };
  let at = 0;
  const header: Record<string, unknown> = {};
  for (const [dtype, w] of Object.entries(all)) header[dtype] = { dtype, shape: [2], data_offsets: [at, (at += 2 * w)] };
  const tensors = parseSafetensors(safetensorsWith(header, at), 'x');
  assert.deepEqual(tensors.map((t) => [t.name, Array.from(t.decode())]), Object.keys(all).map((d) => [d, [0, 0]]));
});

/** A pickle made of opcodes by hand: what a hostile file would contain. */
const pickle = (...parts: (string | number[])[]): Uint8Array => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

test('pickles naming anything but tensor records are refused without running it', () => {
  const hooks = { resolve: () => { throw new Error('not reached'); }, persistentLoad: () => null };
  const evil = pickle([0x80, 2], 'cposix\nsystem\n', 'X', [4, 0, 0, 0], 'echo', [0x85], 'R.');
  const zip = zipWith({ 'archive/data.pkl': evil });
  rejects(() => parsePytorchCheckpoint(zip, 'evil.bin'), /names posix\.system, which a state dict of tensors never needs; refused/);
  rejects(() => readPickle(pickle([0x80, 2], 'i', '.'), hooks, 'x'), /opcode 0x69 is not allowed/); // INST
  rejects(() => readPickle(pickle([0x80, 2], [0x81], '.'), hooks, 'x'), /opcode 0x81 is not allowed/); // NEWOBJ
  rejects(() => readPickle(pickle([0x80, 2], 'X', [0xff, 0xff, 0xff, 0x7f]), hooks, 'x'), /wants 2147483647 bytes at byte 7, the file has 0 left/);
  rejects(() => readPickle(pickle([0x80, 2], 'h', [9], '.'), hooks, 'x'), /memo 9 was never stored/);
  rejects(() => readPickle(pickle([0x80, 2], 'N', 'N', 'R.'), hooks, 'x'), /REDUCE without an argument tuple/);
});

test('a pickle whose tensor records lie about storages, offsets or shapes is refused', () => {
  const record = (numelInPid: number, offset: number, size: number[], stride: number[]): Uint8Array =>
    pickle(
      [0x80, 2], '}', 'X', [1, 0, 0, 0], 'w',
      'ctorch._utils\n_rebuild_tensor_v2\n', '(',
      '(', 'X', [7, 0, 0, 0], 'storage', 'ctorch\nFloatStorage\n', 'X', [1, 0, 0, 0], '0', 'X', [3, 0, 0, 0], 'cpu', 'J', int32(numelInPid), 't', 'Q',
      'J', int32(offset), '(', ...size.flatMap((s) => ['J', int32(s)] as (string | number[])[]), 't',
      '(', ...stride.flatMap((s) => ['J', int32(s)] as (string | number[])[]), 't',
      [0x89], 'N', 't', 'R', 's', '.',
    );
  const data = Buffer.alloc(16);
  const ok = zipWith({ 'archive/data.pkl': record(4, 0, [2, 2], [2, 1]), 'archive/data/0': data });
  assert.deepEqual(parsePytorchCheckpoint(ok, 'ok.bin').map((t) => t.shape), [[2, 2]]);
  rejects(() => parsePytorchCheckpoint(zipWith({ 'archive/data.pkl': record(1 << 28, 0, [2, 2], [2, 1]), 'archive/data/0': data }), 'x'), /storage 0 holds 16 bytes, 268435456 F32 values need/);
  rejects(() => parsePytorchCheckpoint(zipWith({ 'archive/data.pkl': record(4, 3, [2, 2], [2, 1]), 'archive/data/0': data }), 'x'), /reaches element 6 of a storage of 4/);
  rejects(() => parsePytorchCheckpoint(zipWith({ 'archive/data.pkl': record(4, 0, [1 << 20, 1 << 20], [0, 0]), 'archive/data/0': data }), 'x'), /more elements than its storage/);
  rejects(() => parsePytorchCheckpoint(zipWith({ 'archive/data.pkl': record(4, 0, [2, 2], [2]), 'archive/data/0': data }), 'x'), /2 dimensions has 1 strides/);
  rejects(() => parsePytorchCheckpoint(zipWith({ 'archive/data.pkl': record(4, 0, [2, 2], [2, 1]) }), 'x'), /storage 0 is missing from the zip/);
  rejects(() => parsePytorchCheckpoint(zipWith({ 'a/data.pkl': record(4, 0, [2, 2], [2, 1]), 'b/data.pkl': record(4, 0, [2, 2], [2, 1]) }), 'x'), /expected one <folder>\/data\.pkl in the zip, found 2/);
});

function int32(v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return [...b];
}

/** A minimal zip (stored, or deflated when asked) for hand-made checkpoints. */
function zipWith(files: Record<string, Uint8Array>, deflate = false): Buffer {
  const local: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const body = deflate ? deflateRawSync(content) : Buffer.from(content);
    const n = Buffer.from(name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(deflate ? 8 : 0, 8);
    h.writeUInt32LE(body.length, 18);
    h.writeUInt32LE(content.length, 22);
    h.writeUInt16LE(n.length, 26);
    local.push(h, n, body);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(deflate ? 8 : 0, 10);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(content.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    central.push(c, n);
    offset += 30 + n.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...local, cd, end]);
}

test('deflated zip entries are read, and never inflated past their declared size', () => {
  const bin = parsePytorchCheckpoint(zipSeed, 'seed');
  assert.ok(bin.length > 20);
  const big = zipWith({ 'archive/data.pkl': Buffer.alloc(1 << 20) }, true);
  big.writeUInt32LE(10, big.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 24); // central directory: 10 bytes uncompressed
  rejects(() => parsePytorchCheckpoint(big, 'bomb'), /entry archive\/data\.pkl: .*(larger|buffer|inflate|declared)/i);
});

/** Longer than this for one mutated file is a hang, not a slow parse (they take ~5 ms). */
const SLOW_FILE_MS = 500;

function timed(run: () => void): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

interface FuzzStats { files: number; accepted: number; refused: number; slowestMs: number; maxDecodedBytes: number }

/** Mutated copies of `seed` through `parse`: each must decode or fail with LT_HF_IMPORT, fast, allocating no more than the file holds. */
function fuzz(seed: Buffer, count: number, seedNo: number, parse: (b: Buffer) => { decode(): Float32Array }[], hot?: [number, number]): FuzzStats {
  const rng = createRng(seedNo);
  const pick = (n: number): number => Math.floor(rng() * n);
  const stats: FuzzStats = { files: count, accepted: 0, refused: 0, slowestMs: 0, maxDecodedBytes: 0 };
  for (let i = 0; i < count; i++) {
    let b = Buffer.from(seed);
    const where = (): number => (hot && rng() < 0.6 ? hot[0] + pick(hot[1] - hot[0]) : pick(b.length));
    const kind = pick(5);
    for (let m = 0, n = 1 + pick(8); m < n; m++) {
      if (kind === 0) b[where()] = pick(256);
      else if (kind === 1) b[where()] ^= 1 << pick(8);
      else if (kind === 2) b = b.subarray(0, pick(b.length));
      else if (kind === 3) { const at = where(); b = Buffer.concat([b.subarray(0, at), Buffer.from([pick(256), pick(256)]), b.subarray(at)]); }
      else { const at = where(); b.writeUInt32LE(pick(2) ? 0xffffffff : pick(1 << 30), Math.min(at, b.length - 4)); }
    }
    const started = performance.now();
    try {
      let decoded = 0;
      for (const t of parse(b)) decoded += t.decode().byteLength;
      stats.accepted++;
      stats.maxDecodedBytes = Math.max(stats.maxDecodedBytes, decoded / b.length);
    } catch (err) {
      if (!isLivetagError(err, 'LT_HF_IMPORT')) assert.fail(`mutation ${i} (kind ${kind}) crashed the reader: ${(err as Error).stack}`);
      stats.refused++;
    }
    let took = performance.now() - started;
    // A hang repeats; a stalled test process (GC, a neighbour) does not: a slow file is timed again.
    if (took >= SLOW_FILE_MS) took = Math.min(took, timed(() => { try { for (const t of parse(b)) t.decode(); } catch { /* judged above */ } }));
    stats.slowestMs = Math.max(stats.slowestMs, took);
  }
  return stats;
}

test('fuzz: thousands of mutated safetensors and PyTorch checkpoints never crash, hang or over-allocate', () => {
  const headerEnd = 8 + Number(safetensorsSeed.readBigUInt64LE(0));
  const pklAt = zipSeed.indexOf(Buffer.from([0x80, 0x02]));
  const runs = {
    safetensors: fuzz(safetensorsSeed, 3000, 1, (b) => parseSafetensors(b, 'fuzz'), [8, headerEnd]),
    zip: fuzz(zipSeed, 2000, 2, (b) => parsePytorchCheckpoint(b, 'fuzz'), [pklAt, pklAt + 2500]),
    legacy: fuzz(legacySeed, 2000, 3, (b) => parsePytorchCheckpoint(b, 'fuzz'), [0, 3000]),
  };
  for (const [name, s] of Object.entries(runs)) {
    assert.ok(s.refused > s.files / 10 && s.accepted > 0, `${name}: mutations exercised both outcomes ${JSON.stringify(s)}`);
    assert.ok(s.slowestMs < SLOW_FILE_MS, `${name}: slowest file took ${s.slowestMs} ms`);
    // float32 of a value never takes more than 4x the byte it was read from (U8/BOOL/I8).
    assert.ok(s.maxDecodedBytes <= 4, `${name}: decoded ${s.maxDecodedBytes}x the file size`);
  }
  console.log(JSON.stringify(runs));
});
