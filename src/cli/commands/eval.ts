import { LivetagError } from '../../common/errors.ts';
import { resolveModelRef } from '../../model/registry/model-ref.ts';
import { loadBundle } from '../../model/runtime/load-bundle.ts';
import { validateRecords, formatDataReport, type RawRecord } from '../../training/data.ts';
import { evaluateBundle } from '../../training/evaluate.ts';
import { collect, createFileLabelSource } from '../../training/label-source.ts';
import { createCommand } from '../command.ts';
import { evalSpec } from '../specs/eval.ts';

export const command = createCommand(evalSpec, async ({ values }) => {
  const { threads, variant } = values;
  const bundle = await loadBundle(await resolveModelRef(values.model), variant === 'auto' ? {} : { variants: [variant] });
  const records: RawRecord[] = await collect(createFileLabelSource(values.data));
  // Texts of any length, as serving takes them (the tokenizer cuts them); an unknown label is the data's, not something to add here.
  const { rows, report } = validateRecords([], records, { labels: bundle.manifest.labels, maxChars: Number.MAX_SAFE_INTEGER, unknownLabelHint: 'the model has no such label; eval scores its own labels only' });
  if (report.rejected > 0) process.stderr.write(formatDataReport(report) + '\n');
  // Scores of zero rows would read as a model that gets everything wrong.
  if (rows.length === 0) throw new LivetagError('LT_DATA', `${values.data.join(', ')}: no row to score (${report.rejected > 0 ? `${report.rejected} rejected, see above` : 'no rows in it'})`);
  const unseen = bundle.manifest.labels.filter((l) => !report.labelCounts[l]);
  if (unseen.length > 0) {
    process.stderr.write(`livetag eval: note: ${unseen.length} of the model's ${bundle.manifest.labels.length} labels are on no row of the data (${unseen.slice(0, 8).join(', ')}${unseen.length > 8 ? ', …' : ''}); macro-F1 counts each as 0 (as sklearn does with zero_division=0), so it reads low\n`);
  }
  const dupes = report.counts.duplicate ?? 0;
  if (dupes > 0) process.stderr.write(`livetag eval: note: ${dupes} exact duplicate rows were counted once\n`);
  const result = await evaluateBundle(bundle, rows, { variant, ...(threads === undefined ? {} : { threads }) });
  const { samples, ...metrics } = result.metrics;
  process.stdout.write(JSON.stringify({ model: bundle.manifest.version, variant: result.variant, samples, ...metrics }, null, 2) + '\n');
  return 0;
});
