import { buildWordPieceTokenizerJson, BERT_CHINESE_DEFAULTS } from '../model/tokenizer.ts';

/** bert-base-chinese's special tokens, first, so [PAD] is id 0 as the encoder pads with 0. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

function isCjk(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return (
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0x2f800 && c <= 0x2fa1f)
  );
}

/**
 * A character vocabulary for training from scratch: BertPreTokenizer already
 * splits Chinese one character per token, and non-Chinese words are spelled
 * with "##" continuation characters, so every seen character is representable
 * and [UNK] is left for characters seen fewer than `minCount` times.
 */
export function buildCharVocab(texts: Iterable<string>, minCount = 2, maxSize = 30000): string[] {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const raw of text.toLowerCase().normalize('NFD')) {
      if (/\s/.test(raw) || /\p{Mn}/u.test(raw)) continue;
      counts.set(raw, (counts.get(raw) ?? 0) + 1);
    }
  }
  const chars = [...counts]
    .filter(([, n]) => n >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([ch]) => ch);
  const vocab: string[] = [...SPECIAL_TOKENS];
  for (const ch of chars) {
    if (vocab.length >= maxSize) break;
    vocab.push(ch);
    // Only non-CJK characters can continue a word (CJK is always split off).
    if (!isCjk(ch) && vocab.length < maxSize) vocab.push(`##${ch}`);
  }
  return vocab;
}

export function charVocabTokenizerJson(vocab: readonly string[]): string {
  // Lowercase + accent stripping as bert-base-uncased: a small data set cannot afford separate "OK"/"ok" embeddings.
  return buildWordPieceTokenizerJson(vocab, { ...BERT_CHINESE_DEFAULTS, lowercase: true, stripAccents: true });
}
