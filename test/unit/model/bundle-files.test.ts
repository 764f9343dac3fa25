/**
 * Hostile bundles and registries: file names that lead out of the bundle,
 * symlinks out, files over their size caps, forged registry pointers, and
 * fuzzed manifest.json / registry.json contents. The readers must refuse with
 * a LivetagError naming the problem, never read outside, never throw anything else.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRng } from '../../../src/common/rng.ts';
import { isLivetagError, LivetagError } from '../../../src/common/errors.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { MAX_BUNDLE_BYTES, parseManifest, sha256 } from '../../../src/model/manifest.ts';
import { createModelRegistry } from '../../../src/model/registry/registry.ts';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { tempDir } from '../../helpers/shared.ts';

let template: Promise<string> | undefined;
/** A fresh copy of one tiny valid bundle. */
async function bundle(): Promise<string> {
  template ??= (async () => {
    const dir = join(tempDir(), 'tpl');
    await writeRandomBundle(dir, { shape: 'tiny', seed: 17 });
    return dir;
  })();
  const copy = join(tempDir(), 'bundle');
  cpSync(await template, copy, { recursive: true });
  return copy;
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string; bytes: number }>; version: string };
const writeManifest = (dir: string, m: object) => writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));

test('manifest file names must stay inside the bundle: "..", absolute, nested and hidden names are refused', async () => {
  const dir = await bundle();
  const secret = join(dir, '..', 'outside.txt');
  writeFileSync(secret, 'not part of the bundle');
  const entry = { sha256: sha256(readFileSync(secret)), bytes: readFileSync(secret).length };
  for (const name of ['../outside.txt', secret, 'sub/../../outside.txt', '..', '.hidden', 'a\\b', '']) {
    const m = manifestOf(dir);
    writeManifest(dir, { ...m, files: { ...m.files, [name]: entry } });
    await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MANIFEST_INVALID') && /files\.(.*Invalid key|.*plain file name)/.test(e.message), name);
  }
});

test('a bundle file that is a symlink out of the bundle is refused, one inside is fine', async () => {
  const dir = await bundle();
  const outside = join(dir, '..', 'tokenizer-outside.json');
  cpSync(join(dir, 'tokenizer.json'), outside);
  unlinkSync(join(dir, 'tokenizer.json'));
  symlinkSync(outside, join(dir, 'tokenizer.json'));
  await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MANIFEST_INVALID') && /leads outside the bundle/.test(e.message));
  unlinkSync(join(dir, 'tokenizer.json'));
  cpSync(outside, join(dir, 'tokenizer.real.json'));
  symlinkSync('tokenizer.real.json', join(dir, 'tokenizer.json'));
  assert.equal((await loadBundle(dir)).manifest.version, manifestOf(dir).version);
});

test('a FIFO in a bundle file\'s place is refused as not a regular file instead of blocking the load for good', { skip: process.platform === 'win32' ? 'no mkfifo on Windows' : false }, async () => {
  const dir = await bundle();
  unlinkSync(join(dir, 'tokenizer.json'));
  const made = spawnSync('mkfifo', [join(dir, 'tokenizer.json')]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MISSING_FILE') && /tokenizer\.json: is not a regular file/.test(e.message));
});

test('files over their size cap are refused before they are read', async () => {
  const dir = await bundle();
  const m = manifestOf(dir);
  writeManifest(dir, { ...m, files: { ...m.files, 'tokenizer.json': { ...m.files['tokenizer.json']!, bytes: MAX_BUNDLE_BYTES.tokenizer + 1 } } });
  await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MANIFEST_INVALID') && /over its \d+-byte cap/.test(e.message));
  writeManifest(dir, m);
  // A sparse 3 GB model.onnx: judged by its size on disk in milliseconds, never allocated.
  truncateSync(join(dir, 'model.onnx'), 3 * 1024 ** 3);
  const t0 = Date.now();
  await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MANIFEST_INVALID') && /over the \d+-byte cap/.test(e.message));
  assert.ok(Date.now() - t0 < 2_000, `refused in ${Date.now() - t0} ms`);
  const manifest = join(dir, 'manifest.json');
  truncateSync(manifest, MAX_BUNDLE_BYTES.manifest + 1);
  await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MANIFEST_INVALID') && /manifest\.json: is \d+ bytes, over/.test(e.message));
});

test('a manifest version that would name a directory outside versions/ is refused', () => {
  const valid = manifestOf(join(process.cwd(), 'models/default'));
  for (const version of ['..', '.', '.hidden', '../x', 'a/b']) {
    assert.throws(() => parseManifest({ ...valid, version }), (e: unknown) => isLivetagError(e, 'LT_BUNDLE_MANIFEST_INVALID'), version);
  }
});

test('registry pointers are validated: forged ids in registry.json or from callers never leave versions/', async () => {
  const root = join(tempDir(), 'reg');
  const reg = createModelRegistry(root);
  const id = await reg.publish(await bundle());
  await reg.promote(id);
  for (const bad of ['../../etc', '/etc', '..', '.', 'versions/../x', 'a/b', '.tmp']) {
    await assert.rejects(reg.promote(bad), (e: unknown) => isLivetagError(e, 'LT_REGISTRY_INVALID'), bad);
    await assert.rejects(reg.path(bad), (e: unknown) => isLivetagError(e, 'LT_REGISTRY_INVALID'), bad);
    writeFileSync(join(root, 'registry.json'), JSON.stringify({ current: bad, history: [id, bad] }));
    await assert.rejects(reg.path(), (e: unknown) => isLivetagError(e, 'LT_REGISTRY_INVALID'), bad);
  }
  writeFileSync(join(root, 'registry.json'), JSON.stringify({ current: 'elsewhere', history: [id] }));
  await assert.rejects(reg.current(), (e: unknown) => isLivetagError(e, 'LT_REGISTRY_INVALID') && /never promoted/.test(e.message));
  writeFileSync(join(root, 'registry.json'), JSON.stringify({ current: id, history: [id] }));
  assert.equal(await reg.path(), join(root, 'versions', id));
});

/** Mutations a hostile or corrupted JSON document may have: byte flips, cuts, and fields replaced by odd values. */
function mutate(text: string, rng: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const odd = ['null', '-1', '1e309', '"../../x"', '"/abs"', '[]', '{}', '"' + 'a'.repeat(5000) + '"', 'true', '"..\\u0000"', '{"__proto__":{"x":1}}'];
  switch (Math.floor(rng() * 4)) {
    case 0: {
      const b = Buffer.from(text);
      for (let i = 0; i < 1 + rng() * 8; i++) b[Math.floor(rng() * b.length)] = Math.floor(rng() * 256);
      return b.toString('latin1');
    }
    case 1:
      return text.slice(0, Math.floor(rng() * text.length));
    default: {
      // Replace one value (after a "key":) with an odd one.
      const spots = [...text.matchAll(/":\s*/g)].map((m) => m.index! + m[0].length);
      const at = pick(spots);
      const end = text.slice(at).search(/[,}\]]/);
      return text.slice(0, at) + pick(odd) + text.slice(at + Math.max(end, 0));
    }
  }
}

function expectRefusalOrSuccess(err: unknown, codes: RegExp, what: string): void {
  assert.ok(err instanceof LivetagError, `${what}: threw a ${(err as Error)?.constructor?.name}: ${String(err)}`);
  assert.match(err.code, codes, what);
}

test('fuzz: 300 mutated manifests are loaded or refused with an LT_BUNDLE_* error, nothing else', async () => {
  const dir = await bundle();
  const original = readFileSync(join(dir, 'manifest.json'), 'utf8');
  const rng = createRng(2026);
  let refused = 0;
  for (let i = 0; i < 300; i++) {
    writeFileSync(join(dir, 'manifest.json'), mutate(original, rng));
    await loadBundle(dir).catch((err: unknown) => {
      refused++;
      expectRefusalOrSuccess(err, /^LT_(BUNDLE_|ONNX_INVALID|TOKENIZER)/, `mutation ${i}`);
    });
  }
  assert.ok(refused > 250, `${refused}/300 refused`);
});

test('fuzz: 300 mutated registry.json files give a valid version or LT_REGISTRY_INVALID, never a path outside versions/', async () => {
  const root = join(tempDir(), 'fuzzreg');
  const reg = createModelRegistry(root);
  const id = await reg.publish(await bundle());
  await reg.promote(id);
  const original = readFileSync(join(root, 'registry.json'), 'utf8');
  const rng = createRng(7);
  mkdirSync(join(root, 'versions'), { recursive: true });
  for (let i = 0; i < 300; i++) {
    writeFileSync(join(root, 'registry.json'), mutate(original, rng));
    try {
      const p = await reg.path();
      assert.ok(p.startsWith(join(root, 'versions') + '/') && !p.slice(root.length).includes('..'), `mutation ${i}: ${p}`);
    } catch (err) {
      if (isLivetagError(err, 'LT_BUNDLE_MISSING_FILE')) continue; // current: null
      expectRefusalOrSuccess(err, /^LT_REGISTRY_INVALID$/, `mutation ${i}`);
    }
  }
});
