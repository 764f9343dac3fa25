/**
 * Which term frequency should the wide n-gram branch use? The in-job linear
 * fit (lib/fit-probe.ts) with each tf on the same splits: raw (a repeated
 * n-gram counts per position, the norm over positions: bundles before the
 * field), binary and sublinear (1 + ln count; both normalised over distinct
 * n-grams, as scikit-learn's TfidfVectorizer), each paired against raw. The
 * n-grams are of token ids, as when the tf was chosen
 * (bench/results/ngram-tf-probe-*.md); the source is ngram-source-probe's.
 *
 *   node --import tsx bench/ngram-tf-probe.ts --data FILE [--label-field labels|sentiment] [--limit N] [--seeds 13,14,15]
 */
import { DEFAULT_NGRAM, NGRAM_TFS, parseNgramSpec } from '../src/model/ngram-hash.ts';
import { runFitProbe } from './lib/fit-probe.ts';

await runFitProbe('ngram-tf-probe.ts', NGRAM_TFS.map((tf) => [tf, parseNgramSpec({ ...DEFAULT_NGRAM, source: 'tokens', tf })] as const));
