/**
 * The hand labels of 600 real Douyin live comments (bench/data/livechat-douyin-labels.json)
 * and how a model's tags score against them. The texts are read in place from
 * ../shared by line number; the labels file holds numbers and tags only.
 *
 * Those rooms are entertainment streams: most comments carry no tag, so what
 * the set measures well is how often a model tags chit-chat. Its ~35 tagged
 * rows (mostly `host`) give recall only roughly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_LABELS } from '../../src/model/labels.ts';
import { REPO_ROOT, SHARED_DIR } from './texts.ts';

export const LIVE_LABELS_PATH = resolve(REPO_ROOT, 'bench/data/livechat-douyin-labels.json');
const COMMENTS = 'data/livechat-douyin/comments.jsonl';

const tag = z.enum(DEFAULT_LABELS);
const line = z.number().int().min(0);
const fileSchema = z
  .object({ dev: z.array(line), test: z.array(line), labels: z.record(z.string().regex(/^\d+$/), z.array(tag).min(1)) })
  .refine((f) => new Set([...f.dev, ...f.test]).size === f.dev.length + f.test.length, 'a line is listed twice')
  .refine((f) => Object.keys(f.labels).every((k) => f.dev.includes(Number(k)) || f.test.includes(Number(k))), 'a labeled line is in neither split');

export interface LiveRow {
  readonly line: number;
  readonly text: string;
  readonly labels: readonly string[];
}
export type LiveSplit = 'dev' | 'test';

/** The label file, validated; throws with the reason when it is malformed. */
export function readLiveLabels(path = LIVE_LABELS_PATH): z.infer<typeof fileSchema> {
  return fileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** Both splits with their texts, or the reason they cannot be read (../shared absent). */
export function liveLabeledRows(sharedDir = SHARED_DIR): { rows: Record<LiveSplit, LiveRow[]> } | { missing: string } {
  const path = resolve(sharedDir, COMMENTS);
  if (!existsSync(path)) return { missing: `${path} is absent (the hand labels name its lines)` };
  const texts = readFileSync(path, 'utf8').split('\n').map((l) => (l.trim() ? (JSON.parse(l) as { text: string }).text : ''));
  const f = readLiveLabels();
  const take = (lines: readonly number[]): LiveRow[] => lines.map((n) => ({ line: n, text: texts[n], labels: f.labels[String(n)] ?? [] }));
  return { rows: { dev: take(f.dev), test: take(f.test) } };
}

export interface LiveScore {
  readonly rows: number;
  /** Rows with no true tag that got one or more: the chit-chat a host or a bot would be shown. */
  readonly untaggedFired: number;
  readonly untagged: number;
  /** Micro precision and recall over tag assignments; `commerce` leaves `host` out. */
  readonly all: { tp: number; fp: number; fn: number };
  readonly commerce: { tp: number; fp: number; fn: number };
  /** Rows whose predicted tag set is exactly the labeled one. */
  readonly exact: number;
}

export function scoreLive(rows: readonly LiveRow[], predicted: readonly (readonly string[])[]): LiveScore {
  const all = { tp: 0, fp: 0, fn: 0 };
  const commerce = { tp: 0, fp: 0, fn: 0 };
  let untagged = 0;
  let untaggedFired = 0;
  let exact = 0;
  rows.forEach((r, i) => {
    const want = new Set(r.labels);
    const got = new Set(predicted[i]);
    if (want.size === 0) {
      untagged++;
      if (got.size > 0) untaggedFired++;
    }
    if (want.size === got.size && [...want].every((t) => got.has(t))) exact++;
    const count = (t: string, key: 'tp' | 'fp' | 'fn'): void => {
      all[key]++;
      if (t !== 'host') commerce[key]++;
    };
    for (const t of got) count(t, want.has(t) ? 'tp' : 'fp');
    for (const t of want) if (!got.has(t)) count(t, 'fn');
  });
  return { rows: rows.length, untaggedFired, untagged, all, commerce, exact };
}

/** A score as table cells: untagged rows that got a tag, precision / recall with their counts (all tags, then without `host`), exact tag sets. */
export function liveCells(s: LiveScore): { fired: string; precisionRecall: string; commerce: string; exact: string } {
  const pr = (c: { tp: number; fp: number; fn: number }): string => `${ratio(c.tp, c.tp + c.fp)} / ${ratio(c.tp, c.tp + c.fn)} (${c.tp} right, ${c.fp} wrong, ${c.fn} missed)`;
  return {
    fired: `${((100 * s.untaggedFired) / s.untagged).toFixed(1)} % (${s.untaggedFired} of ${s.untagged})`,
    precisionRecall: pr(s.all),
    commerce: pr(s.commerce),
    exact: `${((100 * s.exact) / s.rows).toFixed(1)} %`,
  };
}

const ratio = (a: number, b: number): string => (b === 0 ? '–' : (a / b).toFixed(2));
