/**
 * The suite's runtime comparisons run a bundle's BERT without its wide n-gram
 * branch: the same encoder and head weights, token inputs only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { plainBertBundle } from '../../../bench/lib/plain-bundle.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { readBertWeights } from '../../../src/model/onnx-reader.ts';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

test("a bundle with a wide branch gives its BERT's weights alone, token inputs only, written once per version", async () => {
  const root = tempDir();
  const source = join(REPO_ROOT, 'models/default');
  const fused = await loadBundle(source);
  assert.ok(fused.manifest.architecture.ngram, 'models/default carries the wide n-gram branch');
  const dir = await plainBertBundle(source, root);
  const plain = await loadBundle(dir);
  assert.equal(plain.manifest.architecture.ngram, undefined);
  assert.deepEqual(plain.manifest.onnx.inputs, ['input_ids', 'attention_mask', 'token_type_ids']);
  assert.equal(plain.manifest.parentVersion, fused.manifest.version);
  assert.deepEqual(plain.manifest.thresholds, fused.manifest.thresholds);
  assert.equal(plain.tokenizerJson, fused.tokenizerJson);
  const before = readBertWeights(fused.manifest.architecture, fused.modelBytes);
  const after = readBertWeights(plain.manifest.architecture, plain.modelBytes);
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].filter((n) => !n.startsWith('ngram.')).sort());
  for (const [name, w] of after) assert.deepEqual(w.data, before.get(name)!.data, name);
  const written = statSync(join(dir, 'model.onnx')).mtimeMs;
  assert.equal(await plainBertBundle(source, root), dir);
  assert.equal(statSync(join(dir, 'model.onnx')).mtimeMs, written, 'the second call reuses the first one’s files');
});

test('a bundle without a wide branch is returned as it is', async () => {
  const root = tempDir();
  const dir = join(root, 'plain');
  await writeRandomBundle(dir);
  assert.equal(await plainBertBundle(dir, root), dir);
});
