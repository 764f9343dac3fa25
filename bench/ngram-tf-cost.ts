/**
 * What the distinct-n-gram tf costs the serving graph. 'binary' and
 * 'sublinear' count each position's bucket in its row with an equality
 * matrix over the row's positions (about 3·seq² compares a row); 'raw' does
 * not. Graphs of the default small architecture (no branch, raw, binary,
 * and binary on the text: `--ngram-source text`, fed as many codes a row as
 * tokens) run the same batch interleaved on one thread, so the ratios hold
 * on a noisy machine.
 *
 *   node --import tsx bench/ngram-tf-cost.ts [BATCH] [SEQ]   (defaults 32 64)
 */
import { parseBertConfig, smallBertConfig } from '../src/model/bert-config.ts';
import { buildBertOnnx } from '../src/model/build/onnx-graph.ts';
import { DEFAULT_NGRAM } from '../src/model/ngram-hash.ts';
import { createGraphSession, type GraphSession } from '../src/model/runtime/graph-session.ts';
import { randomWeights } from '../src/model/weights.ts';

const [batch = 32, seq = 64] = process.argv.slice(2).map(Number);
const ROUNDS = 15;
const variants = ['none', 'raw', 'binary', 'text'] as const;
const sessions = new Map<string, GraphSession>();
for (const tf of variants) {
  const ngram = tf === 'text' ? { ...DEFAULT_NGRAM, tf: 'binary', source: 'text' } : { ...DEFAULT_NGRAM, tf };
  const config = parseBertConfig({ ...smallBertConfig(6000, 13), ...(tf === 'none' ? {} : { ngram }) });
  sessions.set(tf, await createGraphSession(buildBertOnnx(config, randomWeights(config, 1)), { threads: 1 }));
}
const ids = BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(5 + ((i * 7919) % 5000)));
const dims = [batch, seq];
const feeds = {
  input_ids: { type: 'int64' as const, data: ids, dims },
  attention_mask: { type: 'int64' as const, data: new BigInt64Array(batch * seq).fill(1n), dims },
  token_type_ids: { type: 'int64' as const, data: new BigInt64Array(batch * seq), dims },
};
// CJK code points shifted as textCodes shifts them, as many a row as tokens.
const codes = { ngram_codes: { type: 'int64' as const, data: BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(0x4e00 + 3 + ((i * 7919) % 5000))), dims } };
const times = new Map<string, number[]>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [tf, session] of sessions) {
    const t = performance.now();
    await session.run(tf === 'text' ? { ...feeds, ...codes } : feeds);
    times.get(tf)!.push(performance.now() - t);
  }
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
const m = Object.fromEntries([...times].map(([k, v]) => [k, median(v)]));
console.log(`batch ${batch} × ${seq} tokens, median ms of ${ROUNDS} interleaved runs: no branch ${m.none.toFixed(1)}, raw tf ${m.raw.toFixed(1)}, binary tf ${m.binary.toFixed(1)}; binary / raw ${(m.binary / m.raw).toFixed(3)}, binary / no branch ${(m.binary / m.none).toFixed(3)}; text (binary) ${m.text.toFixed(1)}, text / binary ${(m.text / m.binary).toFixed(3)}`);
await Promise.all([...sessions.values()].map((s) => s.release()));
