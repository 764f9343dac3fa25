import tokenizers from 'tokenizers';
import { LivetagError } from '../common/errors.ts';
import { textCodes } from './ngram-hash.ts';

const { Tokenizer } = tokenizers;
type HfTokenizer = InstanceType<typeof Tokenizer>;

/** Token ids of one batch, padded to the batch's longest text, flattened row-major. */
export interface EncodedBatch {
  readonly batchSize: number;
  readonly seqLength: number;
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
  readonly tokenTypeIds: BigInt64Array;
  /** Real (unpadded) token count per text, for token-budget batching and metrics. */
  readonly lengths: readonly number[];
  /** A 'text' n-gram branch's input: each row's textCodes, 0-padded to the longest, [batchSize, codesLength]. */
  readonly ngramCodes?: BigInt64Array;
  readonly codesLength?: number;
}

/**
 * One text's token ids before padding. For a model whose n-gram branch reads
 * the text, the row also carries the text's codes: the stream pipeline queues
 * rows, not texts, so the codes travel with the ids to `pad`.
 */
export type TokenRow = readonly number[] & { readonly codes?: Int32Array };

export interface TextEncoder {
  readonly maxLength: number;
  readonly vocabSize: number;
  encode(texts: readonly string[]): Promise<EncodedBatch>;
  /** Unpadded ids (with codes for a text n-gram branch): the stream pipeline tokenizes on arrival and batches by length later. */
  ids(texts: readonly string[]): Promise<TokenRow[]>;
  /** Pads already-tokenized rows into one batch (no second tokenization). */
  pad(rows: readonly TokenRow[]): EncodedBatch;
}

export interface TextEncoderOptions {
  readonly padId?: number;
  /** The model's n-gram branch reads the text: rows carry textCodes of this many characters. */
  readonly ngramChars?: number;
}

/** Rows of codes as the graph's 0-padded int64 input. */
export function padCodes(rows: readonly Int32Array[]): { ngramCodes: BigInt64Array; codesLength: number } {
  const codesLength = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const ngramCodes = new BigInt64Array(rows.length * codesLength);
  rows.forEach((r, b) => {
    for (let s = 0; s < r.length; s++) ngramCodes[b * codesLength + s] = BigInt(r[s]);
  });
  return { ngramCodes, codesLength };
}

export function parseTokenizer(json: string): HfTokenizer {
  try {
    return Tokenizer.fromString(json);
  } catch (cause) {
    throw new LivetagError('LT_TOKENIZER', `tokenizer.json cannot be loaded: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Wraps a Hugging Face tokenizer.json: truncation to the bundle's max length
 * (special tokens kept), padding only to the longest text of each batch so
 * short live comments do not pay for long ones.
 */
export function createTextEncoder(tokenizerJson: string, maxLength: number, opts: TextEncoderOptions = {}): TextEncoder {
  const { padId = 0, ngramChars } = opts;
  const tokenizer = parseTokenizer(tokenizerJson);
  tokenizer.setTruncation(maxLength);
  tokenizer.disablePadding();
  const vocabSize = tokenizer.getVocabSize(true);

  async function ids(texts: readonly string[]): Promise<TokenRow[]> {
    if (texts.length === 0) return [];
    const encodings = await tokenizer.encodeBatch([...texts]);
    const rows = encodings.map((e) => e.getIds());
    return ngramChars === undefined ? rows : rows.map((r, i) => Object.assign(r, { codes: textCodes(texts[i], ngramChars) }));
  }

  function codesOf(rows: readonly TokenRow[]): { ngramCodes: BigInt64Array; codesLength: number } | undefined {
    if (ngramChars === undefined) return undefined;
    return padCodes(rows.map((r) => {
      if (!r.codes) throw new LivetagError('LT_INFERENCE', "a row without its text's codes reached a model whose n-gram branch reads the text (rows must come from this encoder's ids())");
      return r.codes;
    }));
  }

  function pad(rows: readonly TokenRow[]): EncodedBatch {
    const batchSize = rows.length;
    const seqLength = rows.reduce((m, r) => Math.max(m, r.length), 0);
    const inputIds = new BigInt64Array(batchSize * seqLength).fill(BigInt(padId));
    const attentionMask = new BigInt64Array(batchSize * seqLength);
    for (let b = 0; b < batchSize; b++) {
      const row = rows[b];
      const base = b * seqLength;
      for (let s = 0; s < row.length; s++) {
        inputIds[base + s] = BigInt(row[s]);
        attentionMask[base + s] = 1n;
      }
    }
    return {
      batchSize,
      seqLength,
      inputIds,
      attentionMask,
      // Single-segment classification: every token is segment 0.
      tokenTypeIds: new BigInt64Array(batchSize * seqLength),
      lengths: rows.map((r) => r.length),
      ...codesOf(rows),
    };
  }

  async function encode(texts: readonly string[]): Promise<EncodedBatch> {
    return pad(await ids(texts));
  }

  return { maxLength, vocabSize, encode, ids, pad };
}

export interface WordPieceOptions {
  readonly lowercase: boolean;
  readonly tokenizeChineseChars: boolean;
  readonly stripAccents: boolean | null;
  readonly unkToken: string;
  readonly clsToken: string;
  readonly sepToken: string;
  readonly padToken: string;
  readonly maskToken: string;
}

export const BERT_CHINESE_DEFAULTS: WordPieceOptions = Object.freeze({
  lowercase: false,
  tokenizeChineseChars: true,
  stripAccents: null,
  unkToken: '[UNK]',
  clsToken: '[CLS]',
  sepToken: '[SEP]',
  padToken: '[PAD]',
  maskToken: '[MASK]',
});

/**
 * A tokenizer.json equivalent to Hugging Face's BertTokenizerFast for a
 * vocab.txt, for checkpoints that ship no tokenizer.json and for vocabularies
 * the trainer builds from data.
 */
export function buildWordPieceTokenizerJson(vocab: readonly string[], opts: WordPieceOptions = BERT_CHINESE_DEFAULTS): string {
  const index = new Map<string, number>();
  vocab.forEach((tok, i) => {
    if (!index.has(tok)) index.set(tok, i);
  });
  const need = (tok: string): number => {
    const id = index.get(tok);
    if (id === undefined) throw new LivetagError('LT_TOKENIZER', `vocabulary lacks special token ${tok}`);
    return id;
  };
  const specials = [opts.padToken, opts.unkToken, opts.clsToken, opts.sepToken, opts.maskToken];
  const cls = need(opts.clsToken);
  const sep = need(opts.sepToken);
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials
      .filter((t) => index.has(t))
      .map((t) => ({ id: index.get(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))
      .sort((a, b) => a.id! - b.id!),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: opts.tokenizeChineseChars,
      strip_accents: opts.stripAccents,
      lowercase: opts.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: opts.clsToken, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: opts.sepToken, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: opts.clsToken, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: opts.sepToken, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: opts.sepToken, type_id: 1 } },
      ],
      special_tokens: {
        [opts.clsToken]: { id: opts.clsToken, ids: [cls], tokens: [opts.clsToken] },
        [opts.sepToken]: { id: opts.sepToken, ids: [sep], tokens: [opts.sepToken] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: opts.unkToken,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(index),
    },
  };
  return JSON.stringify(json);
}

export function vocabFromText(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
