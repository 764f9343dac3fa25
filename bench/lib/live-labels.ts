/**
 * The hand labels of real Douyin live comments (bench/data/livechat-douyin-labels.json)
 * and how a model's tags score against them. The texts are read in place from
 * ../shared by line number; the labels file holds numbers and tags only.
 *
 * Those rooms are entertainment streams: most comments carry no tag, so what
 * the 600 random lines (dev, test) measure well is how often a model tags
 * chit-chat; their ~35 tagged rows (mostly `host`) give recall only roughly.
 * The keyword split adds every other line that names a commerce word, about
 * half of them real commerce remarks: recall where a random sample has none.
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
export const LIVE_SPLITS = ['dev', 'test', 'keyword'] as const;
export type LiveSplit = (typeof LIVE_SPLITS)[number];
const listed = (f: Record<LiveSplit, number[]>): number[] => LIVE_SPLITS.flatMap((s) => f[s]);
const fileSchema = z
  .object({ dev: z.array(line), test: z.array(line), keyword: z.array(line), labels: z.record(z.string().regex(/^\d+$/), z.array(tag).min(1)) })
  .refine((f) => new Set(listed(f)).size === listed(f).length, 'a line is listed twice')
  .refine((f) => {
    const all = new Set(listed(f));
    return Object.keys(f.labels).every((k) => all.has(Number(k)));
  }, 'a labeled line is in no split');

/**
 * How the keyword split was chosen: every line outside dev and test whose
 * text matches (Python's re.search, the same syntax here).
 */
export const KEYWORD_PATTERN =
  /多少钱|价格|便宜|太贵|好贵|几块|码|尺寸|身高|体重|还有吗|有货|没货|库存|补货|抢不到|发货|快递|物流|包邮|优惠|打折|折扣|券|满减|秒杀|质量|好用吗|材质|面料|纯棉|颜色|什么色|怎么用|退货|换货|售后|退款|链接|小黄车|上架|福袋|赠品|下单|买了|拍了|能买|怎么买|想买/;

export interface LiveRow {
  readonly line: number;
  readonly text: string;
  readonly labels: readonly string[];
}

/** The label file, validated; throws with the reason when it is malformed. */
export function readLiveLabels(path = LIVE_LABELS_PATH): z.infer<typeof fileSchema> {
  return fileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** Every split with its texts, or the reason they cannot be read (../shared absent). */
export function liveLabeledRows(sharedDir = SHARED_DIR): { rows: Record<LiveSplit, LiveRow[]> } | { missing: string } {
  const path = resolve(sharedDir, COMMENTS);
  if (!existsSync(path)) return { missing: `${path} is absent (the hand labels name its lines)` };
  const texts = readFileSync(path, 'utf8').split('\n').map((l) => (l.trim() ? (JSON.parse(l) as { text: string }).text : ''));
  const f = readLiveLabels();
  const take = (lines: readonly number[]): LiveRow[] => lines.map((n) => ({ line: n, text: texts[n], labels: f.labels[String(n)] ?? [] }));
  return { rows: { dev: take(f.dev), test: take(f.test), keyword: take(f.keyword) } };
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
