/**
 * What should the wide n-gram branch hash: BERT's token ids (cut at the
 * model's token limit) or the characters of the whole text (textCodes: NFKC,
 * lower-cased, whitespace dropped, start/end markers)? The in-job linear fit
 * with each source on the same splits (lib/fit-probe.ts), and a third, the
 * text cut at 126 characters (about the token limit), to tell the whole text
 * from the characters themselves.
 *
 *   node --import tsx bench/ngram-source-probe.ts --data FILE [--label-field labels|sentiment] [--limit N] [--seeds 13,14,15]
 */
import { DEFAULT_NGRAM, parseNgramSpec } from '../src/model/ngram-hash.ts';
import { runFitProbe } from './lib/fit-probe.ts';

await runFitProbe('ngram-source-probe.ts', [
  ['tokens', parseNgramSpec({ ...DEFAULT_NGRAM, source: 'tokens' })],
  ['text', parseNgramSpec({ ...DEFAULT_NGRAM, source: 'text' })],
  ['text, 126 chars', parseNgramSpec({ ...DEFAULT_NGRAM, source: 'text', maxChars: 126 })],
]);
