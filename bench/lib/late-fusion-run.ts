/**
 * One plain BERT run of `livetag train` (no branch), opened as the job's late
 * fusion sees it: the run's split, the linear n-gram fit refitted on it as
 * the job fits it, and BERT's logits on the validation and test rows. What
 * the late-fusion probes share, so each varies only its own rule.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../../src/model/bert-config.ts';
import { createClassifier } from '../../src/model/runtime/classifier.ts';
import type { TagCount } from '../../src/model/runtime/select-tags.ts';
import { DEFAULT_NGRAM, textCodes, type NgramSource, type NgramSpec } from '../../src/model/ngram-hash.ts';
import { featurize, linearLogits, type LinearFit } from '../../src/training/linear-baseline.ts';
import { livetagRecipe } from '../../src/training/recipe.ts';
import { fitBestSource } from '../../src/training/steps/baseline.ts';
import { ngramInput } from '../../src/training/steps/encode.ts';
import { tagCountFor } from '../../src/training/validation-score.ts';

export interface LateFusionRun {
  readonly labels: readonly string[];
  readonly config: BertConfig;
  /** Rows of each label in the whole data set (train, validation and test). */
  readonly labelRows: readonly number[];
  readonly tagCount: TagCount;
  readonly valTruth: readonly Uint8Array[];
  readonly testTruth: readonly Uint8Array[];
  readonly spec: NgramSpec;
  readonly fit: LinearFit;
  /** The fit's n-gram rows of the test texts (what Fusion.logits reads). */
  readonly testNgram: readonly ArrayLike<number>[];
  readonly fitTest: Float32Array;
  readonly bertVal: Float32Array;
  readonly bertTest: Float32Array;
}

/** The recipe late fusion runs under (`pretrain` → `train --init`). */
export const LATE_RECIPE = livetagRecipe('compact', 0, 'late');

/** `sources`: the n-gram sources the fit may take, the one with the lower validation log loss kept (the job's auto). */
export async function openLateFusionRun(run: string, sources: readonly NgramSource[]): Promise<LateFusionRun> {
  const read = (f: string) => readFileSync(join(run, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { text: string; labels: string[] });
  const [train, val, test] = [read('train.jsonl'), read('validation.jsonl'), read('test.jsonl')];
  const all = [...train, ...val, ...test];
  const clf = await createClassifier({ bundle: join(run, 'bundle'), variant: 'base' });
  try {
    const { labels } = clf;
    const width = labels.length;
    const targets = all.map((r) => Uint8Array.from(labels, (l) => (r.labels.includes(l) ? 1 : 0)));
    const ids = await clf.encoder.ids(all.map((r) => r.text));
    const span = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    const [trainRows, valRows, testRows] = [span(0, train.length), span(train.length, val.length), span(train.length + val.length, test.length)];
    const encoded = { ids: ids.map((r) => Int32Array.from(r)), codes: all.map((r) => textCodes(r.text, DEFAULT_NGRAM.maxChars)), targets };
    const { fit, spec } = fitBestSource({ encoded, plan: { trainRows, valRows }, labels }, DEFAULT_NGRAM, clf.encoder.vocabSize, sources);
    const ngram = ngramInput(encoded, spec);
    const testNgram = testRows.map((r) => ngram[r]);
    const bert = async (rows: number[]) => {
      const out = new Float32Array(rows.length * width);
      for (let i = 0; i < rows.length; i += 64) out.set(await clf.infer(clf.encoder.pad(rows.slice(i, i + 64).map((r) => ids[r]))), i * width);
      return out;
    };
    return {
      labels,
      config: clf.manifest.architecture,
      labelRows: labels.map((_, j) => targets.reduce((n, t) => n + t[j], 0)),
      tagCount: tagCountFor(LATE_RECIPE, targets, [...trainRows, ...valRows]),
      valTruth: valRows.map((r) => targets[r]),
      testTruth: testRows.map((r) => targets[r]),
      spec,
      fit,
      testNgram,
      fitTest: linearLogits(fit.model, featurize(fit.model, testNgram)),
      bertVal: await bert(valRows),
      bertTest: await bert(testRows),
    };
  } finally {
    await clf.stop();
  }
}
