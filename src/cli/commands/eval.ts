import { parseArgs } from 'node:util';
import { loadBundle } from '../../model/bundle.ts';
import { validateRecords, formatDataReport, type RawRecord } from '../../training/data.ts';
import { evaluateBundle } from '../../training/evaluate.ts';
import { collect, createFileLabelSource } from '../../training/label-source.ts';
import { usageError, type Command } from '../main.ts';

const HELP = `usage: livetag eval --model <bundle> --data <file|dir> [--threads N] [--variant auto|base|NAME]

Scores a bundle on labeled JSONL ({"text", "labels": [...]}) with its own tokenizer,
onnxruntime and its manifest's thresholds, and prints JSON: subset_accuracy, micro_f1,
macro_f1, hamming_loss, per_label {label: {precision, recall, f1, support}}.
Rows with labels the model does not know, and invalid rows, are skipped and reported on stderr.
--variant scores one of the bundle's graphs (default auto: what serve runs on CPU).`;

export const command: Command = {
  summary: 'score a bundle on labeled JSONL (subset accuracy, micro/macro-F1, per label)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        data: { type: 'string', multiple: true, default: [] },
        threads: { type: 'string' },
        variant: { type: 'string', default: 'auto' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP + '\n');
      return 0;
    }
    if (!values.model || values.data.length === 0) throw usageError(`--model and --data are required\n\n${HELP}`);
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) throw usageError('--threads must be a non-negative integer');

    const variant = values.variant;
    const bundle = await loadBundle(values.model, variant === 'auto' ? {} : { variants: [variant] });
    const records: RawRecord[] = await collect(createFileLabelSource(values.data));
    const { rows, report } = validateRecords([], records, { labels: bundle.manifest.labels });
    if (report.rejected > 0) process.stderr.write(formatDataReport(report) + '\n');
    const dupes = report.counts.duplicate ?? 0;
    if (dupes > 0) process.stderr.write(`livetag eval: note: ${dupes} exact duplicate rows were counted once\n`);
    const result = await evaluateBundle(bundle, rows, { variant, ...(threads === undefined ? {} : { threads }) });
    const { samples, ...metrics } = result.metrics;
    process.stdout.write(JSON.stringify({ model: bundle.manifest.version, variant: result.variant, samples, ...metrics }, null, 2) + '\n');
    return 0;
  },
};
