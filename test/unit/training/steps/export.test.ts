import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLivetagError } from '../../../../src/common/errors.ts';
import { writeRandomBundle } from '../../../../src/model/build/random-bundle.ts';
import { loadBundle } from '../../../../src/model/runtime/load-bundle.ts';
import { textCodes } from '../../../../src/model/ngram-hash.ts';
import { createTextEncoder } from '../../../../src/model/tokenizer.ts';
import { assertFirstBatch, initialOnnxLoss } from '../../../../src/training/steps/export.ts';
import { tempDir } from '../../../helpers/shared.ts';

test('the first-batch check runs before training and stops a run whose engine did not load the weights given (LT_PARITY)', async () => {
  const dir = join(tempDir(), 'b');
  await writeRandomBundle(dir, { labels: ['a', 'b'], seed: 3 });
  const bundle = await loadBundle(dir);
  const encoder = createTextEncoder(bundle.tokenizerJson, 16);
  const ids = await encoder.ids(['这个多少钱', 'M码还有吗']);
  const input = {
    engine: { name: 'onnxruntime' },
    initial: { initOnnx: bundle.modelBytes },
    encoded: { ids, codes: ['这个多少钱', 'M码还有吗'].map((t) => textCodes(t, 256)), targets: [Uint8Array.of(1, 0), Uint8Array.of(0, 1)] },
    labels: ['a', 'b'],
    threads: 1,
  } as unknown as Parameters<typeof assertFirstBatch>[0];
  const truth = (await initialOnnxLoss(input, [0, 1]))!;
  assert.ok(Number.isFinite(truth));
  const lines: string[] = [];
  await assertFirstBatch(input, { rows: [0, 1], loss: truth + 1e-6 }, (l) => lines.push(l));
  assert.match(lines[0], /first-batch loss: onnxruntime engine/);
  await assert.rejects(assertFirstBatch(input, { rows: [0, 1], loss: truth + 0.5 }, () => {}), (err: unknown) => isLivetagError(err, 'LT_PARITY') && /nothing was trained/.test(err.message));
  await assert.rejects(assertFirstBatch(input, { rows: [0, 1], loss: Number.NaN }, () => {}), (err: unknown) => isLivetagError(err, 'LT_PARITY'), 'NaN is no agreement');
});
