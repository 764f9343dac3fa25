/**
 * Per-epoch checkpoints: every trainable tensor, the optimizer's moments and
 * the loop's bookkeeping, so a run killed mid-way resumes at the next epoch
 * with the same result it would have had. Replaced atomically, so a kill
 * during the write leaves the previous checkpoint.
 */
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { leftoversOf, replaceDirAtomically, writeFiles } from '../common/atomic-write.ts';
import { LivetagError } from '../common/errors.ts';
import { pathExists } from '../common/fs.ts';

export interface StoredTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface CheckpointData<S> {
  readonly state: S;
  readonly tensors: ReadonlyMap<string, StoredTensor>;
}

const STATE = 'state.json';
const TENSORS = 'tensors.bin';

/**
 * Bytes per read or write call: Node refuses a file over 2 GiB in one readFile, and one blob of a
 * large model's weights and moments (16 bytes a parameter with the best epoch kept) would not fit
 * a typed array on Node 20 past 4 GiB. Tensors go to and from the file one by one, in pieces.
 */
const IO_CHUNK = 256 * 1024 * 1024;

async function writeTensors(path: string, tensors: ReadonlyMap<string, StoredTensor>): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const t of tensors.values()) {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      for (let at = 0; at < bytes.length; at += IO_CHUNK) {
        const piece = bytes.subarray(at, Math.min(bytes.length, at + IO_CHUNK));
        for (let done = 0; done < piece.length; ) done += (await handle.write(piece, done)).bytesWritten;
      }
    }
  } finally {
    await handle.close();
  }
}

async function readTensor(handle: FileHandle, offset: number, length: number): Promise<Float32Array> {
  const data = new Float32Array(length);
  const bytes = new Uint8Array(data.buffer);
  for (let at = 0; at < bytes.length; ) {
    const { bytesRead } = await handle.read(bytes, at, Math.min(IO_CHUNK, bytes.length - at), offset * 4 + at);
    if (bytesRead === 0) throw new Error(`${TENSORS} ends inside a tensor`);
    at += bytesRead;
  }
  return data;
}

export async function saveCheckpoint<S>(dir: string, state: S, tensors: ReadonlyMap<string, StoredTensor>): Promise<void> {
  const index: Array<{ name: string; shape: readonly number[]; offset: number; length: number }> = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    index.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.length;
  }
  try {
    await replaceDirAtomically(dir, async (tmp) => {
      await writeTensors(join(tmp, TENSORS), tensors);
      await writeFiles(tmp, [[STATE, JSON.stringify({ state, index }) + '\n']]);
    });
  } catch (cause) {
    throw new LivetagError('LT_CHECKPOINT', `cannot write checkpoint ${dir}: ${(cause as Error).message}`, { cause });
  }
}

/** A killed write's leftovers, and `<dir>.old` from earlier versions of this module. */
async function leftovers(dir: string): Promise<{ old: string[]; tmp: string[] }> {
  const found = await leftoversOf(dir);
  return { old: [`${dir}.old`, ...found.old], tmp: found.tmp };
}

/** The checkpoint directory, else the newest parked previous one. */
async function findCheckpoint(dir: string): Promise<string | undefined> {
  if (await pathExists(join(dir, STATE))) return dir;
  const found: Array<{ path: string; mtime: number }> = [];
  for (const path of (await leftovers(dir)).old) {
    const info = await stat(join(path, STATE)).catch(() => undefined);
    if (info) found.push({ path, mtime: info.mtimeMs });
  }
  return found.sort((x, y) => y.mtime - x.mtime)[0]?.path;
}

export async function loadCheckpoint<S>(dir: string): Promise<CheckpointData<S> | undefined> {
  const where = await findCheckpoint(dir);
  if (!where) return undefined;
  try {
    const { state, index } = JSON.parse(await readFile(join(where, STATE), 'utf8')) as {
      state: S;
      index: Array<{ name: string; shape: number[]; offset: number; length: number }>;
    };
    const handle = await open(join(where, TENSORS), 'r');
    try {
      const floats = (await handle.stat()).size / 4;
      const tensors = new Map<string, StoredTensor>();
      for (const e of index) {
        if (e.offset + e.length > floats) throw new Error(`tensor ${e.name} runs past the end of ${TENSORS}`);
        tensors.set(e.name, { shape: e.shape, data: await readTensor(handle, e.offset, e.length) });
      }
      return { state, tensors };
    } finally {
      await handle.close();
    }
  } catch (cause) {
    throw new LivetagError('LT_CHECKPOINT', `checkpoint ${where} cannot be read: ${(cause as Error).message}`, { cause });
  }
}

export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const { old, tmp } = await leftovers(dir);
  for (const path of [...old, ...tmp]) await rm(path, { recursive: true, force: true });
}
