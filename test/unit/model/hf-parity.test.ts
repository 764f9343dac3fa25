import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHf } from '../../../src/model/build/hf-import.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { sharedPath, tempDir } from '../../helpers/shared.ts';

const fixture = sharedPath('fixtures/hf-bert-tiny');

type Case = { text: string; input_ids: number[]; probabilities: number[] };

for (const worker of [false, true]) {
  test(`import-hf parity with Hugging Face (${worker ? 'worker thread' : 'inline'})`, async (t) => {
    if (!fixture.path) return t.skip(fixture.skip);
    const expected = JSON.parse(readFileSync(join(fixture.path, 'expected.json'), 'utf8')) as {
      labels: string[];
      cases: Case[];
    };
    const out = join(tempDir(), 'bundle');
    const { manifest } = await importHf(fixture.path, out);
    assert.deepEqual(manifest.labels, expected.labels);
    assert.equal(manifest.head, 'pretrained');

    const classifier = await createClassifier({ bundle: out, worker, threads: 1 });
    try {
      const texts = expected.cases.map((c) => c.text);
      assert.deepEqual(await classifier.encoder.ids(texts), expected.cases.map((c) => c.input_ids));

      const batched = await classifier.classify(texts, { allScores: true });
      const single: typeof batched = [];
      for (const text of texts) single.push((await classifier.classify([text], { allScores: true }))[0]);
      let worst = 0;
      expected.cases.forEach((c, i) => {
        c.probabilities.forEach((p, j) => {
          const label = expected.labels[j];
          worst = Math.max(worst, Math.abs(batched[i].scores![label] - p), Math.abs(single[i].scores![label] - p));
        });
      });
      assert.ok(worst <= 1e-3, `max probability difference ${worst} exceeds 1e-3`);
      // Tags are the labels at or over the (default 0.5) threshold, highest first.
      const first = batched[0];
      const over = expected.labels.filter((l) => first.scores![l] >= 0.5);
      assert.deepEqual(new Set(first.tags.map((x) => x.label)), new Set(over));
      assert.ok(first.tags.every((tag, i) => i === 0 || first.tags[i - 1].score >= tag.score));
    } finally {
      await classifier.stop();
    }
  });
}
