/**
 * Step: encode. Token ids for every row, the trainer's features (for a frozen
 * prefix, its output computed once with onnxruntime) and 0/1 targets.
 * Truncated texts are added to the data report here, once the tokenizer is known.
 */
import { DEFAULT_NGRAM, textCodes, type NgramSpec } from '../../model/ngram-hash.ts';
import { createTextEncoder } from '../../model/tokenizer.ts';
import { noteIssue, type DataReport, type LabeledRow } from '../data.ts';
import { createFrozenFeatures, createIdFeatures, tokenizeAll, type FeatureStore } from '../features.ts';
import { toMatrix } from '../metrics.ts';
import { createProgress } from '../progress.ts';
import type { InitialModel } from './initialise.ts';

export interface EncodeInput {
  readonly model: InitialModel;
  readonly rows: readonly LabeledRow[];
  readonly labels: readonly string[];
  /** Gains the truncation findings. */
  readonly report: DataReport;
  readonly threads?: number;
  readonly quiet?: boolean;
}

export interface EncodedRows {
  readonly ids: readonly Int32Array[];
  /** textCodes per row (the n-gram spec's maxChars), for a branch or baseline on the text; graphs that do not read them ignore them. */
  readonly codes: readonly Int32Array[];
  readonly features: FeatureStore;
  readonly targets: readonly Uint8Array[];
}

export async function encodeRows(input: EncodeInput, log: (line: string) => void): Promise<EncodedRows> {
  const { model, rows } = input;
  const { maxLength, frozenLayers } = model;
  const ids = await tokenizeAll(createTextEncoder(model.tokenizerJson, maxLength), rows.map((r) => r.text));
  ids.forEach((r, i) => {
    // At the limit and longer than the limit in characters (+ [CLS] and [SEP]): something was cut.
    if (r.length >= maxLength && rows[i].text.length + 2 > maxLength) {
      noteIssue(input.report, { kind: 'truncated', source: 'tokenizer', detail: `"${rows[i].text.slice(0, 30)}…" truncated to ${maxLength} tokens` });
    }
  });
  // Computed whatever the source: the baseline step may choose the text over the tokens, and the engine feeds codes only to a graph that reads them.
  const codes = rows.map((r) => textCodes(r.text, (model.config.ngram ?? DEFAULT_NGRAM).maxChars));
  let features: FeatureStore;
  if (frozenLayers > 0) {
    log(`computing the frozen lower ${frozenLayers} layers once per text with onnxruntime`);
    features = await createFrozenFeatures(model.config, model.weights, frozenLayers, ids, {
      progress: createProgress('frozen layers', ids.length, undefined, input.quiet),
      ...(input.threads === undefined ? {} : { threads: input.threads }),
      codes,
    });
  } else features = createIdFeatures(ids, codes);
  return { ids, codes, features, targets: toMatrix(rows.map((r) => r.labels), input.labels) };
}

/** The rows a spec's n-grams are made of: token ids or the text's codes. */
export function ngramInput(encoded: Pick<EncodedRows, 'ids' | 'codes'>, spec: NgramSpec): readonly Int32Array[] {
  return spec.source === 'text' ? encoded.codes : encoded.ids;
}
