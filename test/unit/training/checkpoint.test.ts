import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint, type StoredTensor } from '../../../src/training/checkpoint.ts';
import { tempDir } from '../../helpers/shared.ts';

const tensors = (v: number): Map<string, StoredTensor> =>
  new Map([
    ['a', { shape: [2, 2], data: Float32Array.of(v, 2, 3, 4) }],
    ['b', { shape: [3], data: Float32Array.of(5, 6, v) }],
  ]);

test('save → load gives back state and tensors; saving again replaces it whole, leaving nothing beside it', async () => {
  const root = tempDir();
  const dir = join(root, 'checkpoint');
  await saveCheckpoint(dir, { epoch: 1 }, tensors(1));
  await saveCheckpoint(dir, { epoch: 2 }, tensors(9));
  const back = await loadCheckpoint<{ epoch: number }>(dir);
  assert.deepEqual(back?.state, { epoch: 2 });
  assert.deepEqual(back?.tensors.get('a'), { shape: [2, 2], data: Float32Array.of(9, 2, 3, 4) });
  assert.deepEqual(back?.tensors.get('b')?.data, Float32Array.of(5, 6, 9));
  assert.deepEqual(readdirSync(root), ['checkpoint']);
});

test('a kill between the two renames leaves the previous checkpoint parked beside it: it is found, then removed', async () => {
  const root = tempDir();
  const dir = join(root, 'checkpoint');
  await saveCheckpoint(dir, { epoch: 3 }, tensors(3));
  renameSync(dir, join(root, '.checkpoint.old-123-abcd'));
  assert.deepEqual((await loadCheckpoint<{ epoch: number }>(dir))?.state, { epoch: 3 });
  await removeCheckpoint(dir);
  assert.deepEqual(readdirSync(root), []);
  assert.equal(await loadCheckpoint(dir), undefined);
});

test('<dir>.old from earlier versions is still resumed from', async () => {
  const root = tempDir();
  await saveCheckpoint(join(root, 'checkpoint.old'), { epoch: 4 }, tensors(4));
  assert.deepEqual((await loadCheckpoint<{ epoch: number }>(join(root, 'checkpoint')))?.state, { epoch: 4 });
});

test('write and read failures are LT_CHECKPOINT', async () => {
  const root = tempDir();
  writeFileSync(join(root, 'file'), 'not a directory');
  await assert.rejects(saveCheckpoint(join(root, 'file', 'checkpoint'), {}, tensors(1)), (err: unknown) => isLivetagError(err, 'LT_CHECKPOINT'));
  const dir = join(root, 'checkpoint');
  await saveCheckpoint(dir, {}, tensors(1));
  writeFileSync(join(dir, 'state.json'), '{ torn');
  await assert.rejects(loadCheckpoint(dir), (err: unknown) => isLivetagError(err, 'LT_CHECKPOINT'));
  assert.ok(existsSync(dir));
});

test('a tensor lying past 2 GiB into tensors.bin is read (a large model\'s checkpoint; one readFile refused it): a sparse file, no disk used', async () => {
  const dir = join(tempDir(), 'ckpt');
  await saveCheckpoint(dir, { epoch: 1 }, new Map([['small', { shape: [2], data: Float32Array.of(1, 2) }]]));
  const far = 2 ** 29 + 7; // floats: 2 GiB + 28 bytes in
  const handle = await open(join(dir, 'tensors.bin'), 'r+');
  await handle.write(new Uint8Array(Float32Array.of(3.5, -4).buffer), 0, 8, far * 4);
  await handle.close();
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  state.index.push({ name: 'far', shape: [2], offset: far, length: 2 });
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
  const loaded = await loadCheckpoint<{ epoch: number }>(dir);
  assert.deepEqual([...loaded!.tensors.get('small')!.data], [1, 2]);
  assert.deepEqual([...loaded!.tensors.get('far')!.data], [3.5, -4]);
});
