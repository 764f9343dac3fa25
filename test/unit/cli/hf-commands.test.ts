import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { REPO_ROOT, tempDir , captureOutput } from '../../helpers/shared.ts';

const capture = captureOutput;

const root = tempDir();

test('livetag import-hf reads a legacy pytorch_model.bin and says what it skipped; export-hf writes a Hugging Face directory', async () => {
  const bundle = join(root, 'bundle');
  const imported = await capture(() => main(['import-hf', join(REPO_ROOT, 'test/fixtures/hf/bin-legacy-pretraining'), '--out', bundle, '--labels', 'a,b']));
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /weights: pytorch_model\.bin/);
  assert.match(imported.stdout, /head: random \(initialised: classifier\.weight, classifier\.bias\)/);
  assert.match(imported.stdout, /ignored tensors: cls\.predictions\.bias, cls\.seq_relationship\.weight/);
  assert.match(imported.stdout, /note: skipped 1 index buffer that are not weights: bert\.embeddings\.position_ids/);

  const hf = join(root, 'hf');
  const exported = await capture(() => main(['export-hf', bundle, '--out', hf]));
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /parity: max \|Δlogit\| 0\.00e\+0/);
  assert.deepEqual(JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')).id2label, { 0: 'a', 1: 'b' });

  const busy = join(root, 'busy');
  await mkdir(busy);
  await writeFile(join(busy, 'keep.txt'), 'mine');
  const refused = await capture(() => main(['export-hf', bundle, '--out', busy]));
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /LT_HF_EXPORT/);
  assert.equal(readFileSync(join(busy, 'keep.txt'), 'utf8'), 'mine');
  assert.equal(existsSync(join(busy, 'config.json')), false);
});

test('import-hf never deletes what it does not own: --out on the checkpoint itself or on a file is refused, an earlier bundle is replaced; export-hf refuses a file', async () => {
  const dir = tempDir();
  const checkpoint = join(dir, 'ckpt');
  await cp(join(REPO_ROOT, 'test/fixtures/hf/bin-legacy-pretraining'), checkpoint, { recursive: true });
  const before = readdirSync(checkpoint).sort();
  const inPlace = await capture(() => main(['import-hf', checkpoint, '--out', checkpoint, '--labels', 'a,b']));
  assert.equal(inPlace.code, 2, inPlace.stderr);
  assert.match(inPlace.stderr, /LT_USAGE: .*ckpt holds other files .*none of manifest\.json/);
  assert.deepEqual(readdirSync(checkpoint).sort(), before, 'the checkpoint is untouched');

  const file = join(dir, 'notes.txt');
  await writeFile(file, 'mine');
  const onFile = await capture(() => main(['import-hf', checkpoint, '--out', file, '--labels', 'a,b']));
  assert.equal(onFile.code, 2, onFile.stderr);
  assert.match(onFile.stderr, /notes\.txt is a file/);
  assert.equal(readFileSync(file, 'utf8'), 'mine');

  const bundle = join(dir, 'bundle');
  for (let i = 0; i < 2; i++) assert.equal((await capture(() => main(['import-hf', checkpoint, '--out', bundle, '--labels', 'a,b']))).code, 0, 'a bundle is replaced by the next import');
  const exported = await capture(() => main(['export-hf', bundle, '--out', file]));
  assert.equal(exported.code, 2, exported.stderr);
  assert.match(exported.stderr, /LT_HF_EXPORT: .*notes\.txt is a file/);
  assert.equal(readFileSync(file, 'utf8'), 'mine');
});
