import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, readlink, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
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

test('a promotion waiting on the lock while a prune moves its version aside fails, rather than point current at a version that is gone', async () => {
  const [a, b] = await bundles(2);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const [ia, ib] = [await reg.publish(a), await reg.publish(b)];
  await reg.promote(ia);
  const lock = join(reg.root, '.registry.lock');
  await writeFile(lock, 'prune\n');
  const promoting = reg.promote(ib);
  promoting.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 150));
  // What a prune does under the lock: the version moved aside, then the lock released.
  await rename(join(reg.root, 'versions', ib), join(reg.root, 'versions', `.pruned-${ib}-1`));
  await rm(lock);
  await assert.rejects(promoting, /manifest\.json|ENOENT|cannot be read/);
  assert.equal(await reg.current(), ia, 'current still names a version that exists');
});

test('two waiters that both find the lock stale do not both take it: no promotion is lost from the history', async () => {
  const [a, b, c] = await bundles(3);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const ids = [await reg.publish(a), await reg.publish(b), await reg.publish(c)];
  const lock = join(reg.root, '.registry.lock');
  const old = new Date(Date.now() - 11 * 60_000);
  for (let round = 0; round < 12; round++) {
    await writeFile(join(reg.root, 'registry.json'), JSON.stringify({ current: null, history: [] }));
    await writeFile(lock, 'killed\n');
    await utimes(lock, old, old);
    await Promise.all(ids.map((id) => reg.promote(id)));
    const state = JSON.parse(await readFile(join(reg.root, 'registry.json'), 'utf8')) as { history: string[] };
    assert.deepEqual([...state.history].sort(), [...ids].sort(), `round ${round}: every promotion in the history`);
  }
});

test('publishing other content under a version id already published is refused (LT_REGISTRY_CONFLICT); the same bundle again is a no-op', async () => {
  const [a] = await bundles(1);
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const id = await reg.publish(a);
  assert.equal(await reg.publish(a), id, 'publishing the same bundle twice is harmless');
  const changed = join(tempDir(), 'changed');
  await cp(a, changed, { recursive: true });
  const manifest = JSON.parse(await readFile(join(changed, 'manifest.json'), 'utf8')) as { thresholds: number[] };
  manifest.thresholds = manifest.thresholds.map(() => 0.99);
  await writeFile(join(changed, 'manifest.json'), JSON.stringify(manifest));
  await assert.rejects(reg.publish(changed), (err: unknown) => isLivetagError(err, 'LT_REGISTRY_CONFLICT') && /already published with other content/.test(err.message));
  assert.notEqual((await loadBundle(await reg.path(id))).manifest.thresholds[0], 0.99, 'the published version is unchanged');
});

test('a bundle holding a relative link publishes a version that verifies (the link copied as its file), and prune clears a killed publish\'s temp copy', async () => {
  const [a] = await bundles(1);
  const linked = join(tempDir(), 'linked');
  await mkdir(join(linked, 'files'), { recursive: true });
  await cp(a, join(linked, 'files'), { recursive: true });
  await mkdir(linked, { recursive: true });
  // The bundle's tokenizer as a link to a file beside it in the bundle.
  const manifest = JSON.parse(await readFile(join(linked, 'files', 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
  const name = Object.keys(manifest.files ?? {}).find((f) => f.endsWith('.json')) ?? 'tokenizer.json';
  await rename(join(linked, 'files', name), join(linked, 'files', `real-${name}`));
  await symlink(`real-${name}`, join(linked, 'files', name));
  await loadBundle(join(linked, 'files'));
  const reg = createModelRegistry(join(tempDir(), 'registry'));
  const id = await reg.publish(join(linked, 'files'));
  await rm(linked, { recursive: true });
  await reg.promote(id);
  assert.equal((await loadBundle(await reg.path(id))).manifest.version, id, 'verifies with the source gone');

  const leftover = join(reg.root, 'versions', `.${id}-x.tmp-99999-0badc0de`);
  const fresh = join(reg.root, 'versions', `.${id}-y.tmp-99998-0badc0de`);
  await mkdir(leftover);
  await mkdir(fresh);
  const old = new Date(Date.now() - 2 * 60 * 60_000);
  await utimes(leftover, old, old);
  await reg.prune(5);
  const names = await readdir(join(reg.root, 'versions'));
  assert.ok(!names.includes(`.${id}-x.tmp-99999-0badc0de`), 'an hour-old temp copy is removed');
  assert.ok(names.includes(`.${id}-y.tmp-99998-0badc0de`), 'a fresh one may still be a publish in progress');
});
