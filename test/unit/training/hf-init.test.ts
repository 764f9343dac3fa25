import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHf } from '../../../src/model/build/hf-import.ts';
import { bceWithLogits } from '../../../src/training/losses.ts';
import { runTrainJob } from '../../../src/training/train-job.ts';
import { sharedPath, tempDir } from '../../helpers/shared.ts';
import { writeJsonl } from './fixtures.ts';

const fixture = sharedPath('fixtures/hf-bert-tiny');

type Expected = { labels: string[]; cases: Array<{ text: string; logits: number[]; probabilities: number[] }> };

for (const via of ['import-hf bundle', 'checkpoint directory'] as const) {
  test(`fine-tuning from hf-bert-tiny (${via}) starts from its weights`, async (t) => {
    if (!fixture.path) return t.skip(fixture.skip);
    const expected = JSON.parse(readFileSync(join(fixture.path, 'expected.json'), 'utf8')) as Expected;
    const dir = tempDir();
    // Labels from the checkpoint's own confident predictions; the empty text is a bad row.
    const rows = expected.cases.map((c, i) => ({ id: `r${i}`, text: c.text, labels: expected.labels.filter((_, j) => c.probabilities[j] >= 0.5) }));
    const data = writeJsonl(join(dir, 'd.jsonl'), rows);
    let init = fixture.path;
    if (via === 'import-hf bundle') {
      init = join(dir, 'imported');
      await importHf(fixture.path, init);
    }
    const result = await runTrainJob({
      data: [data],
      init,
      recipe: 'livetag',
      out: join(dir, 'run'),
      recipeOverrides: { maxEpochs: 1, batchSize: 4 },
      ratios: [0.5, 0.25, 0.25],
      // The checkpoint alone: a wide n-gram branch started from the linear fit would change the starting logits on purpose.
      ngram: null,
      quiet: true,
      log: () => {},
      threads: 1,
    });
    const r = result.report;
    assert.equal(r.data.counts['empty-text'], 1);
    assert.equal(r.init.kind, via === 'import-hf bundle' ? 'bundle' : 'hf');
    assert.ok(r.firstBatch.onnxLoss !== undefined);
    assert.ok(r.firstBatch.absDiff! < 1e-5, `training engine ${r.firstBatch.engineLoss} vs onnxruntime ${r.firstBatch.onnxLoss}`);
    // And the same as Hugging Face's own (float64) logits for those rows.
    const byId = new Map(rows.map((row, i) => [`r${i}`, { row, logits: expected.cases[i].logits }]));
    const batch = r.firstBatch.ids.map((id) => byId.get(id)!);
    const hfLoss = bceWithLogits(
      batch.flatMap((b) => b.logits),
      batch.flatMap((b) => expected.labels.map((l) => (b.row.labels.includes(l) ? 1 : 0))),
    );
    assert.ok(Math.abs(hfLoss - r.firstBatch.engineLoss) < 1e-4, `Hugging Face ${hfLoss} vs the training engine ${r.firstBatch.engineLoss}`);
    assert.ok(r.parity.maxAbsDiff <= 1e-4);
  });
}
