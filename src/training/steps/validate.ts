/**
 * Step: validate. Settles the label set (--labels, the initial model's, the
 * base's, or whatever the data has) and turns raw records into clean rows
 * with a data report. Too few usable rows is LT_DATA (the CLI's exit 3).
 */
import { rm } from 'node:fs/promises';
import { writeFileAtomically } from '../../common/atomic-write.ts';
import { LivetagError, isLivetagError } from '../../common/errors.ts';
import { readHfCheckpoint, type HfCheckpoint } from '../../model/build/hf-import.ts';
import { formatDataReport, validateRecords, type DataReport, type LabeledRow, type RejectedRecord } from '../data.ts';
import type { LoadedData } from './load-data.ts';

/** Below this there is nothing to split three ways and learn from. */
export const MIN_ROWS = 10;

export interface ValidateInput {
  readonly labels?: readonly string[];
  readonly addLabels?: boolean;
  readonly maxChars?: number;
  /** Where every rejected record is written whole (the run's rejected.jsonl); absent, nowhere. */
  readonly rejectedFile?: string;
}

export interface ValidatedData {
  readonly rows: LabeledRow[];
  readonly labels: string[];
  readonly report: DataReport;
  /** The Hugging Face checkpoint, read with the settled labels (an hf init only). */
  readonly hf?: HfCheckpoint;
}

/**
 * The report lists 200 records of a kind and a labels topic's offsets move on
 * past the rest: each rejected record is kept whole here, its raw value
 * beside why, to be fixed and fed back with --data. An old file goes when none is rejected.
 */
async function writeRejected(file: string, rejects: readonly RejectedRecord[], log: (line: string) => void): Promise<void> {
  if (rejects.length === 0) return void (await rm(file, { force: true }));
  await writeFileAtomically(file, rejects.map((r) => JSON.stringify(r)).join('\n') + '\n');
  log(`data: the ${rejects.length} rejected records, each whole with why, are in ${file}`);
}

export async function validateData(loaded: LoadedData, input: ValidateInput, log: (line: string) => void): Promise<ValidatedData> {
  const { init, base, baseBundle, fresh } = loaded;
  const maxChars = input.maxChars ? { maxChars: input.maxChars } : {};
  // An encoder bundle (livetag pretrain) has no labels of its own: they come from the data.
  const initLabels = init.kind === 'bundle' && init.bundle.manifest.head !== 'encoder' ? init.bundle.manifest.labels : undefined;
  let fixedLabels: readonly string[] | undefined = input.labels ?? initLabels ?? baseBundle?.manifest.labels;
  let hf: HfCheckpoint | undefined;
  if (init.kind === 'hf') {
    try {
      hf = await readHfCheckpoint(init.dir, fixedLabels ? { labels: fixedLabels } : {});
    } catch (err) {
      // A pretraining checkpoint (bert-base-chinese) has no head and no label names: take them from the data.
      if (!isLivetagError(err, 'LT_HF_IMPORT') || fixedLabels) throw err;
      const open = validateRecords(base?.previous ?? [], fresh, maxChars);
      hf = await readHfCheckpoint(init.dir, { labels: open.labels });
    }
    fixedLabels = hf.labels;
  }
  const { rows, labels, report, rejects } = validateRecords(base?.previous ?? [], fresh, {
    ...(fixedLabels ? { labels: fixedLabels } : {}),
    ...(input.addLabels ? { addUnknownLabels: true } : {}),
    ...maxChars,
  });
  log(formatDataReport(report, 20));
  // Before the row check: a run with too few good rows is the one whose rejects are most needed.
  if (input.rejectedFile) await writeRejected(input.rejectedFile, rejects, log);
  if (rows.length < MIN_ROWS) throw new LivetagError('LT_DATA', `only ${rows.length} usable rows; nothing to train on`);
  return { rows, labels, report, ...(hf ? { hf } : {}) };
}
