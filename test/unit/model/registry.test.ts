import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, readlink, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createModelRegistry } from '../../../src/model/registry/registry.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { tempDir } from '../../helpers/shared.ts';

async function bundles(n: number): Promise<string[]> {
  const dir = tempDir();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = join(dir, `b${i}`);
    await writeRandomBundle(b, { shape: 'tiny', seed: 100 + i });
    out.push(b);
  }
  return out;
}

test('publish, promote, rollback move the current pointer atomically', async () => {
  const [a, b, c] = await bundles(3);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  assert.equal(await reg.current(), null);
  await assert.rejects(reg.path(), /no current model/);
  const [ia, ib, ic] = [await reg.publish(a), await reg.publish(b), await reg.publish(c)];
  assert.equal(await reg.publish(a), ia, 'publishing the same bundle again is a no-op');
  await reg.promote(ia);
  await reg.promote(ib);
  await reg.promote(ic);
  assert.equal(await reg.current(), ic);
  assert.equal(await readlink(join(reg.root, 'current')), join('versions', ic));
  assert.equal((await loadBundle(join(reg.root, 'current'))).manifest.version, ic);
  assert.equal(await reg.rollback(), ib);
  assert.equal(await reg.current(), ib);
  assert.equal(await reg.rollback(), ia);
  await assert.rejects(reg.rollback(), (e: unknown) => isLivetagError(e, 'LT_REGISTRY_NO_ROLLBACK') && /no earlier version/.test(e.message));
  const listed = await reg.list();
  assert.deepEqual(listed.filter((e) => e.current).map((e) => e.id), [ia]);
  assert.equal(listed.length, 3);
});

test('a version that does not verify cannot be promoted', async () => {
  const [a, b] = await bundles(2);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const ia = await reg.publish(a);
  const ib = await reg.publish(b);
  await reg.promote(ia);
  const onnx = join(reg.root, 'versions', ib, 'model.onnx');
  const bytes = await readFile(onnx);
  bytes[100] ^= 0xff;
  await writeFile(onnx, bytes);
  await assert.rejects(reg.promote(ib), /LT_BUNDLE_HASH_MISMATCH|does not match/);
  assert.equal(await reg.current(), ia);
});

test('prune keeps the newest N and never the current or the rollback target', async () => {
  const bs = await bundles(5);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const ids: string[] = [];
  for (const b of bs) ids.push(await reg.publish(b));
  const sorted = [...ids].sort();
  await reg.promote(sorted[0]);
  await reg.promote(sorted[1]);
  const removed = await reg.prune(2);
  assert.deepEqual(removed.sort(), [sorted[2]]);
  const left = (await reg.list()).map((e) => e.id).sort();
  assert.deepEqual(left, [sorted[0], sorted[1], sorted[3], sorted[4]]);
  assert.equal(await reg.rollback(), sorted[0]);
});

test('publishing a version again replaces a copy that no longer verifies, leaving no temp directories', async () => {
  const [a] = await bundles(1);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const id = await reg.publish(a);
  const onnx = join(reg.root, 'versions', id, 'model.onnx');
  const bytes = await readFile(onnx);
  bytes[100] ^= 0xff;
  await writeFile(onnx, bytes);
  assert.equal(await reg.publish(a), id);
  await loadBundle(join(reg.root, 'versions', id));
  assert.deepEqual(await readdir(join(reg.root, 'versions')), [id]);
  await reg.promote(id);
  assert.deepEqual((await readdir(reg.root)).sort(), ['current', 'registry.json', 'versions']);
});

test('a registry.json that does not parse is LT_REGISTRY_INVALID', async () => {
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const [a] = await bundles(1);
  await reg.promote(await reg.publish(a));
  await writeFile(join(reg.root, 'registry.json'), '{"current": 3');
  await assert.rejects(reg.current(), (e: unknown) => isLivetagError(e, 'LT_REGISTRY_INVALID'));
});

test('changes take the registry lock: concurrent promotions all land in the history, a prune racing a rollback cannot undo it, a held lock is waited for and a stale one broken', async () => {
  const [a, b, c, d] = await bundles(4);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const ids = [await reg.publish(a), await reg.publish(b), await reg.publish(c), await reg.publish(d)];
  // Four processes' worth of promotions at once: each reads, appends and writes the state.
  await Promise.all(ids.map((id) => reg.promote(id)));
  const state = JSON.parse(await readFile(join(reg.root, 'registry.json'), 'utf8')) as { current: string; history: string[] };
  assert.deepEqual([...state.history].sort(), [...ids].sort(), 'no promotion lost');
  assert.equal(state.current, state.history.at(-1));
  assert.equal(await readlink(join(reg.root, 'current')), join('versions', state.current));

  // A prune (slow deletes) and a rollback at once: the rollback stands.
  const [, rolledTo] = await Promise.all([reg.prune(2), reg.rollback()]);
  assert.equal(await reg.current(), rolledTo);
  assert.ok((await readdir(join(reg.root, 'versions'))).includes(rolledTo), 'the version rolled back to is kept');

  // A lock held by someone else is waited for; one left for over 10 minutes is broken.
  const lock = join(reg.root, '.registry.lock');
  await writeFile(lock, 'other\n');
  const other = (await reg.list()).find((e) => !e.current)!.id;
  let done = false;
  const waiting = reg.promote(other).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(done, false, 'waits for the holder');
  await rm(lock);
  await waiting;
  assert.equal(await reg.current(), other);
  await writeFile(lock, 'killed\n');
  const old = new Date(Date.now() - 11 * 60_000);
  await utimes(lock, old, old);
  assert.equal(await reg.rollback(), rolledTo, 'a stale lock is broken');
  await assert.rejects(readFile(lock), /ENOENT/, 'and released after the change');
});
