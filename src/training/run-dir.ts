/**
 * A run directory holds a bundle and, beside it, what the bundle was trained
 * and judged on:
 *
 *   <run>/bundle/            the bundle (manifest.json, model.onnx, tokenizer.json)
 *   <run>/train-data.jsonl   every accepted row (all splits): the next run's "previous" set
 *   <run>/splits.json        seed, ratios, and each row's split by text key (test pinned)
 *   <run>/test.jsonl …       the splits as files, for `livetag eval --data`
 *   <run>/rejected.jsonl     the records the validation rejected, whole, with why
 *   <run>/report/            report.json, report.md, charts
 *   <run>/checkpoint/        per-epoch state while a run is in progress
 *
 * The data stays out of the bundle so a bundle can ship without its data.
 */
import { cp, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { replaceDirAtomically, writeFileAtomically } from '../common/atomic-write.ts';
import { LivetagError } from '../common/errors.ts';
import { pathExists } from '../common/fs.ts';
import { rowToJson, type LabeledRow, type RawRecord } from './data.ts';
import { readJsonlRecords } from './data-files.ts';
import { SPLIT_NAMES, type SplitName } from './stratify.ts';

export const BUNDLE_DIR = 'bundle';
export const TRAIN_DATA_FILE = 'train-data.jsonl';
/** Every record the data validation rejected, whole, with why (steps/validate.ts). */
export const REJECTED_FILE = 'rejected.jsonl';
export const SPLITS_FILE = 'splits.json';
export const REPORT_DIR = 'report';
export const CHECKPOINT_DIR = 'checkpoint';

export const SplitsSchema = z.object({
  version: z.literal(1),
  seed: z.number().int(),
  ratios: z.array(z.number()).length(3),
  /** text key → split; the test entries are what later runs keep pinned. */
  assignments: z.record(z.string(), z.enum(SPLIT_NAMES)),
});
export type Splits = z.infer<typeof SplitsSchema>;

export interface BaseRun {
  readonly bundleDir: string;
  /** Where train-data.jsonl and splits.json are, when the base has them. */
  readonly runDir?: string;
  readonly previous: RawRecord[];
  readonly splits?: Splits;
}

/** Accepts a run directory or a bundle directory inside one (or a bare bundle, with no data). */
export async function resolveBaseRun(path: string): Promise<BaseRun> {
  const abs = resolve(path);
  let bundleDir: string;
  if (await pathExists(join(abs, 'manifest.json'))) bundleDir = abs;
  else if (await pathExists(join(abs, BUNDLE_DIR, 'manifest.json'))) bundleDir = join(abs, BUNDLE_DIR);
  else throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${path}: neither a bundle nor a run directory with ${BUNDLE_DIR}/manifest.json`);
  const candidates = [dirname(bundleDir), bundleDir];
  for (const dir of candidates) {
    if (await pathExists(join(dir, TRAIN_DATA_FILE))) {
      const previous: RawRecord[] = [];
      for await (const r of readJsonlRecords(join(dir, TRAIN_DATA_FILE), `previous:${basename(dir)}/${TRAIN_DATA_FILE}`)) previous.push(r);
      const splits = (await pathExists(join(dir, SPLITS_FILE))) ? await readSplits(join(dir, SPLITS_FILE)) : undefined;
      return { bundleDir, runDir: dir, previous, ...(splits ? { splits } : {}) };
    }
  }
  return { bundleDir, previous: [] };
}

export async function readSplits(path: string): Promise<Splits> {
  try {
    return SplitsSchema.parse(JSON.parse(await readFile(path, 'utf8')));
  } catch (cause) {
    throw new LivetagError('LT_DATA', `${path}: not a valid splits file (${(cause as Error).message.split('\n')[0]})`, { cause });
  }
}

/**
 * Each file is replaced whole: a later `--base` pointing here must never read
 * a torn train-data.jsonl or splits.json.
 */
export async function writeRunData(runDir: string, rows: readonly LabeledRow[], split: readonly SplitName[], splits: Splits): Promise<void> {
  const jsonl = (keep: (i: number) => boolean): string => rows.flatMap((r, i) => (keep(i) ? [rowToJson(r) + '\n'] : [])).join('');
  await writeFileAtomically(join(runDir, TRAIN_DATA_FILE), jsonl(() => true));
  await writeFileAtomically(join(runDir, SPLITS_FILE), JSON.stringify(splits, null, 1) + '\n');
  for (const name of SPLIT_NAMES) await writeFileAtomically(join(runDir, `${name}.jsonl`), jsonl((i) => split[i] === name));
}

/** What a promoted run leaves in its target; a target holding none of them is not replaced. */
export const RUN_MARKERS = [BUNDLE_DIR, TRAIN_DATA_FILE];

/** Replaces `target` whole with the given [source, name] entries that exist (links followed), or LT_TRAINING saying `what` failed. */
async function replaceRunFolder(target: string, entries: ReadonlyArray<readonly [string, string]>, what: string): Promise<void> {
  try {
    await replaceDirAtomically(
      resolve(target),
      async (tmp) => {
        for (const [from, name] of entries) if (await pathExists(from)) await cp(from, join(tmp, name), { recursive: true, dereference: true });
      },
      { ownedBy: RUN_MARKERS },
    );
  } catch (cause) {
    throw new LivetagError('LT_TRAINING', `cannot ${what}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Copies a run's bundle and data to where serving and the next run look,
 * replacing what is there in one rename so nobody reads a half-copied model.
 */
export async function promoteRun(runDir: string, target: string): Promise<void> {
  const entries = [BUNDLE_DIR, TRAIN_DATA_FILE, SPLITS_FILE, REPORT_DIR].map((f) => [join(runDir, f), f] as const);
  await replaceRunFolder(target, entries, `promote ${runDir} to ${target}`);
}

/**
 * A kept challenger's rows and pinned splits, carried to the champion's folder beside the
 * champion's own bundle and report: the next run's --base reads them there, so the labels this
 * run consumed are trained on later. The folder changes whole, as a promotion's does. The
 * champion's bundle may be the registry's `current`, a link: its files are copied.
 */
export async function carryRunData(runDir: string, target: string, championBundle: string): Promise<void> {
  const entries = [
    [resolve(championBundle), BUNDLE_DIR],
    [join(resolve(target), REPORT_DIR), REPORT_DIR],
    [join(runDir, TRAIN_DATA_FILE), TRAIN_DATA_FILE],
    [join(runDir, SPLITS_FILE), SPLITS_FILE],
  ] as const;
  await replaceRunFolder(target, entries, `carry the data of ${runDir} to ${target}`);
}
