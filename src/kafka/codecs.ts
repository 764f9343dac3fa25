/**
 * The record-batch codecs kafkajs lacks (it ships gzip only): snappy, lz4
 * and zstd, in the framings Kafka's own clients write. Nothing here imports
 * kafkajs; the kafkajs adapter registers these, librdkafka has its own.
 */
import zstdWasm from '@bokuweb/zstd-wasm';
import lz4 from 'lz4-napi';
import snappy from 'snappy';
import { LivetagError } from '../common/errors.ts';

export interface Codec {
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

// Java's snappy-java SnappyOutputStream ("xerial" framing): magic, version,
// compatible version, then length-prefixed blocks. librdkafka and Java both
// read it, and both may write it, so decoding must accept it and raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;
const XERIAL_BLOCK = 32 * 1024;

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER && data.subarray(0, 8).equals(XERIAL_MAGIC);
}

export const snappyCodec: Codec = {
  async compress(data) {
    const parts: Buffer[] = [XERIAL_MAGIC, Buffer.from([0, 0, 0, 1, 0, 0, 0, 1])];
    for (let i = 0; i < data.length; i += XERIAL_BLOCK) {
      const block = snappy.compressSync(data.subarray(i, i + XERIAL_BLOCK));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(block.length);
      parts.push(len, block);
    }
    return Buffer.concat(parts);
  },
  async decompress(data) {
    if (!isXerial(data)) return snappy.uncompressSync(data) as Buffer;
    const parts: Buffer[] = [];
    for (let at = XERIAL_HEADER; at < data.length; ) {
      if (at + 4 > data.length) throw corrupt('snappy', 'truncated block header');
      const len = data.readUInt32BE(at);
      at += 4;
      if (at + len > data.length) throw corrupt('snappy', 'truncated block');
      parts.push(snappy.uncompressSync(data.subarray(at, at + len)) as Buffer);
      at += len;
    }
    return Buffer.concat(parts);
  },
};

/** Kafka's lz4 is the standard LZ4 frame format (KIP-57 fixed the old header checksum). */
export const lz4Codec: Codec = {
  compress: async (data) => lz4.compressFrameSync(data),
  decompress: async (data) => lz4.decompressFrameSync(data),
};

let zstdReady: Promise<void> | undefined;
const ZSTD_MAX_OUTPUT = 256 * 1024 * 1024;

export const zstdCodec: Codec = {
  async compress(data) {
    await (zstdReady ??= zstdWasm.init());
    return Buffer.from(zstdWasm.compress(data, 3));
  },
  async decompress(data) {
    await (zstdReady ??= zstdWasm.init());
    // Streaming writers (Java's ZstdOutputStream, librdkafka) may leave the
    // content size out of the frame; the WASM decoder then needs a bound,
    // which grows until the batch fits.
    for (let heap = Math.max(1024 * 1024, data.length * 8); ; heap *= 2) {
      try {
        return Buffer.from(zstdWasm.decompress(data, { defaultHeapSize: heap }));
      } catch (err) {
        if (heap * 2 > ZSTD_MAX_OUTPUT) throw corrupt('zstd', (err as Error).message);
      }
    }
  },
};

export const CODECS: Readonly<Record<'snappy' | 'lz4' | 'zstd', Codec>> = { snappy: snappyCodec, lz4: lz4Codec, zstd: zstdCodec };

function corrupt(codec: string, why: string): LivetagError {
  return new LivetagError('LT_KAFKA', `cannot decompress a ${codec} record batch: ${why}`, { retryable: false });
}
