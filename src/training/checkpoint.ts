/**
 * Per-epoch checkpoints: every trainable tensor, the optimizer's moments and
 * the loop's bookkeeping, so a run killed mid-way resumes at the next epoch
 * with the same result it would have had. Written to a temp directory and
 * swapped in, so a kill during the write leaves the previous checkpoint.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { pathExists } from '../common/fs.ts';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LivetagError } from '../common/errors.ts';

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


export async function saveCheckpoint<S>(dir: string, state: S, tensors: ReadonlyMap<string, StoredTensor>): Promise<void> {
  const index: Array<{ name: string; shape: readonly number[]; offset: number; length: number }> = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    index.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.length;
  }
  const blob = new Float32Array(offset);
  for (const e of index) blob.set(tensors.get(e.name)!.data, e.offset);
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  const old = `${dir}.old`;
  try {
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, TENSORS), new Uint8Array(blob.buffer));
    await writeFile(join(tmp, STATE), JSON.stringify({ state, index }) + '\n');
    await rm(old, { recursive: true, force: true });
    if (await pathExists(dir)) await rename(dir, old);
    await rename(tmp, dir);
    await rm(old, { recursive: true, force: true });
  } catch (cause) {
    await rm(tmp, { recursive: true, force: true });
    throw new LivetagError('LT_CHECKPOINT', `cannot write checkpoint ${dir}: ${(cause as Error).message}`, { cause });
  }
}

export async function loadCheckpoint<S>(dir: string): Promise<CheckpointData<S> | undefined> {
  // A kill between the two renames leaves only the previous one, under .old.
  const where = (await pathExists(join(dir, STATE))) ? dir : (await pathExists(join(`${dir}.old`, STATE))) ? `${dir}.old` : undefined;
  if (!where) return undefined;
  try {
    const { state, index } = JSON.parse(await readFile(join(where, STATE), 'utf8')) as {
      state: S;
      index: Array<{ name: string; shape: number[]; offset: number; length: number }>;
    };
    const bytes = await readFile(join(where, TENSORS));
    const blob = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const tensors = new Map<string, StoredTensor>();
    for (const e of index) {
      if (e.offset + e.length > blob.length) throw new Error(`tensor ${e.name} runs past the end of ${TENSORS}`);
      tensors.set(e.name, { shape: e.shape, data: blob.slice(e.offset, e.offset + e.length) });
    }
    return { state, tensors };
  } catch (cause) {
    throw new LivetagError('LT_CHECKPOINT', `checkpoint ${where} cannot be read: ${(cause as Error).message}`, { cause });
  }
}

export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.old`, { recursive: true, force: true });
}
