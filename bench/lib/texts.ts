import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED_DIR = process.env.LIVETAG_SHARED ?? resolve(REPO_ROOT, '../shared');

const FALLBACK = ['这个多少钱', 'M码还有吗', '什么时候发货', '主播好漂亮', '666', '链接在哪里', '有优惠券吗', '质量怎么样，会起球吗？', '黑色还有货吗', '包邮吗'];

/** Real live comments from ../shared when present (stated in the output), else a small built-in list. */
export function liveComments(): { texts: string[]; source: string } {
  const path = resolve(SHARED_DIR, 'data/livechat-douyin/comments.jsonl');
  if (!existsSync(path)) return { texts: FALLBACK, source: 'built-in sample (../shared absent)' };
  const texts = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { text: string }).text)
    .filter((t) => t.trim().length > 0);
  return { texts, source: path };
}

const STAND_IN_CHARS = '的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起';

/**
 * The tianchi review texts (real e-commerce reviews, the training benches' data) from `sharedDir`
 * when present, else 2000 synthetic texts of their lengths (6–38 characters); `source` says which.
 */
export function tianchiReviews(sharedDir = SHARED_DIR): { texts: string[]; source: string } {
  const path = resolve(sharedDir, 'data/tianchi-makeup/labeled.jsonl');
  if (existsSync(path)) return { texts: readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text), source: 'tianchi-makeup (real reviews)' };
  const c = STAND_IN_CHARS;
  return { texts: Array.from({ length: 2000 }, (_, i) => Array.from({ length: 6 + ((i * 7919) % 33) }, (_, j) => c[(i * 31 + j * 17) % c.length]).join('')), source: 'synthetic (../shared absent)' };
}

export function sharedTokenizer(): string | undefined {
  const p = resolve(SHARED_DIR, 'tokenizers/bert-base-chinese/tokenizer.json');
  return existsSync(p) ? p : undefined;
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
