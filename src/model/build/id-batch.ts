import { padCodes, type EncodedBatch } from '../tokenizer.ts';

/**
 * Pads rows of token ids into the int64 batch onnxruntime takes, in the same
 * layout as the serving encoder, so a graph checked on these rows is checked
 * on what serving feeds it. `codes`: the rows' textCodes, for a graph whose
 * n-gram branch reads the text.
 */
export function toEncodedBatch(rows: readonly Int32Array[], codes?: readonly Int32Array[]): EncodedBatch {
  const batchSize = rows.length;
  const seqLength = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const inputIds = new BigInt64Array(batchSize * seqLength);
  const attentionMask = new BigInt64Array(batchSize * seqLength);
  rows.forEach((r, b) => {
    for (let s = 0; s < r.length; s++) {
      inputIds[b * seqLength + s] = BigInt(r[s]);
      attentionMask[b * seqLength + s] = 1n;
    }
  });
  return { batchSize, seqLength, inputIds, attentionMask, tokenTypeIds: new BigInt64Array(batchSize * seqLength), lengths: rows.map((r) => r.length), ...(codes ? padCodes(codes) : {}) };
}
