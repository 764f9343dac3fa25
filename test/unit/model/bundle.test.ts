import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { sha256 } from '../../../src/model/manifest.ts';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { readBertWeights } from '../../../src/model/onnx-reader.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { tempDir } from '../../helpers/shared.ts';

const root = tempDir();
const good = join(root, 'good');
const ready = writeRandomBundle(good, { shape: 'tiny', seed: 7 });

async function copyOf(name: string): Promise<string> {
  await ready;
  const dir = join(root, name);
  await cp(good, dir, { recursive: true });
  return dir;
}

test('write → read → write gives identical weights and bytes', async () => {
  await ready;
  const bundle = await loadBundle(good);
  const config = bundle.manifest.architecture;
  const weights = readBertWeights(config, bundle.modelBytes);
  const again = buildBertOnnx(config, weights, { meta: { 'livetag.model_id': bundle.manifest.modelId } });
  assert.equal(sha256(again), bundle.manifest.files['model.onnx'].sha256);
  const weights2 = readBertWeights(config, again);
  for (const [name, t] of weights) assert.deepEqual(weights2.get(name)!.data, t.data, name);
});

test('repeated runs give identical outputs', async () => {
  await ready;
  const c = await createClassifier({ bundle: good, worker: false, threads: 1 });
  try {
    const texts = ['这个多少钱', 'M码还有吗', '什么时候发货，包邮吗？'];
    const a = await c.infer(await c.encode(texts));
    const b = await c.infer(await c.encode(texts));
    assert.deepEqual(a, b);
    assert.equal(a.length, texts.length * c.labels.length);
  } finally {
    await c.stop();
  }
});

test('a bundle with one byte changed in model.onnx is refused, naming the file', async () => {
  const dir = await copyOf('tampered');
  const path = join(dir, 'model.onnx');
  const bytes = await readFile(path);
  bytes[bytes.length - 10] ^= 0x01;
  await writeFile(path, bytes);
  await assert.rejects(loadBundle(dir), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_BUNDLE_HASH_MISMATCH'));
    assert.match(err.message, /model\.onnx/);
    return true;
  });
  await assert.rejects(createClassifier({ bundle: dir, worker: false }), /LT_BUNDLE_HASH_MISMATCH|does not match/);
});

test('labels that disagree with the output width are refused', async () => {
  const dir = await copyOf('wrong-labels');
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  manifest.labels = manifest.labels.slice(0, -1);
  manifest.thresholds = manifest.thresholds.slice(0, -1);
  manifest.architecture.numLabels -= 1;
  await writeFile(path, JSON.stringify(manifest));
  await assert.rejects(loadBundle(dir), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_BUNDLE_INCONSISTENT'));
    assert.match(err.message, /model\.onnx: output width 13 does not match the manifest's 12 labels/);
    return true;
  });
});

test('a manifest claiming more positions than the graph\'s table is refused (the longer texts it let through failed their whole batch)', async () => {
  const dir = await copyOf('wrong-positions');
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  const rows = manifest.architecture.maxPositions;
  manifest.architecture.maxPositions = rows * 4;
  manifest.maxSequenceLength = rows * 4;
  await writeFile(path, JSON.stringify(manifest));
  await assert.rejects(loadBundle(dir), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_BUNDLE_INCONSISTENT'));
    assert.match(err.message, new RegExp(`model\\.onnx: position table of ${rows} rows differs from the manifest's architecture\\.maxPositions ${rows * 4}`));
    return true;
  });
});

test('a manifest whose labels disagree with its own architecture is refused by the schema', async () => {
  const dir = await copyOf('bad-manifest');
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  manifest.labels.push('extra');
  await writeFile(path, JSON.stringify(manifest));
  await assert.rejects(loadBundle(dir), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_BUNDLE_MANIFEST_INVALID'));
    assert.match(err.message, /manifest\.json: .*thresholds/);
    return true;
  });
});

test('tag-count bounds that cannot be met are refused by the schema; bounds that can are served', async () => {
  const dir = await copyOf('bad-tag-count');
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...manifest, tagCount: { min: 2, max: 1 } }));
  await assert.rejects(loadBundle(dir), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_BUNDLE_MANIFEST_INVALID'));
    assert.match(err.message, /tagCount/);
    return true;
  });
  await writeFile(path, JSON.stringify({ ...manifest, tagCount: { min: 1, max: 1 } }));
  const classifier = await createClassifier({ bundle: dir, worker: false, threads: 1 });
  try {
    const out = await classifier.classify(['这个多少钱', 'M码还有吗', '']);
    assert.deepEqual(out.map((c) => c.tags.length), [1, 1, 1], 'exactly one tag each, whatever the random weights score');
  } finally {
    await classifier.stop();
  }
});

test('input names that disagree with the graph are refused', async () => {
  const dir = await copyOf('bad-inputs');
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  manifest.onnx.inputs = ['input_ids', 'attention_mask'];
  await writeFile(path, JSON.stringify(manifest));
  await assert.rejects(loadBundle(dir), /LT_BUNDLE_INCONSISTENT|graph inputs/);
});

test('a missing file is refused naming it', async () => {
  const dir = await copyOf('missing');
  await rm(join(dir, 'tokenizer.json'));
  await assert.rejects(loadBundle(dir), (err: unknown) => {
    assert.ok(isLivetagError(err, 'LT_BUNDLE_MISSING_FILE'));
    assert.match(err.message, /tokenizer\.json/);
    return true;
  });
});

test('cuda requested where CUDA is missing falls back to CPU with one warning', async () => {
  await ready;
  for (const worker of [false, true]) {
    const warnings: string[] = [];
    const c = await createClassifier({ bundle: good, device: 'cuda', worker, warn: (m) => warnings.push(m) });
    try {
      assert.equal(c.provider, 'cpu');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /CUDA execution provider unavailable.*running on CPU/);
      const [r] = await c.classify(['这个多少钱'], { allScores: true });
      assert.equal(Object.keys(r.scores!).length, 13);
    } finally {
      await c.stop();
    }
  }
});

test('stop is idempotent and later calls fail with LT_STOPPED', async () => {
  await ready;
  const c = await createClassifier({ bundle: good, worker: true });
  await Promise.all([c.stop(), c.stop()]);
  await c.stop();
  await assert.rejects(c.classify(['x']), (err: unknown) => isLivetagError(err, 'LT_STOPPED'));
});
