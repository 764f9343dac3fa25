/**
 * Per-epoch checkpoints: every trainable tensor, the optimizer's moments and
 * the loop's bookkeeping, so a run killed mid-way resumes at the next epoch
 * with the same result it would have had. Replaced atomically, so a kill
 * during the write leaves the previous checkpoint.
 */
import { readFile, rm, stat } from 'node:fs/promises';
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

export async function saveCheckpoint<S>(dir: string, state: S, tensors: ReadonlyMap<string, StoredTensor>): Promise<void> {
  const index: Array<{ name: string; shape: readonly number[]; offset: number; length: number }> = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    index.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.length;
  }
  const blob = new Float32Array(offset);
  for (const e of index) blob.set(tensors.get(e.name)!.data, e.offset);
  try {
    await replaceDirAtomically(dir, (tmp) =>
      writeFiles(tmp, [
        [TENSORS, new Uint8Array(blob.buffer)],
        [STATE, JSON.stringify({ state, index }) + '\n'],
      ]),
    );
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
  const { old, tmp } = await leftovers(dir);
  for (const path of [...old, ...tmp]) await rm(path, { recursive: true, force: true });
}
