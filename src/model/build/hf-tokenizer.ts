import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists } from '../../common/fs.ts';
import { LivetagError } from '../../common/errors.ts';
import { BERT_CHINESE_DEFAULTS, buildWordPieceTokenizerJson, vocabFromText, type WordPieceOptions } from '../tokenizer.ts';
import { importError } from './checkpoint-tensor.ts';

/** Hugging Face's BertTokenizer's own defaults, for whatever tokenizer_config.json leaves unsaid. */
export const BERT_TOKENIZER_DEFAULTS: WordPieceOptions = Object.freeze({ ...BERT_CHINESE_DEFAULTS, lowercase: true });

export async function readJsonFile(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return importError(`${path}: ${(err as Error).message}`);
  }
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : importError(`${path}: not a JSON object`);
  } catch (cause) {
    return importError(`${path}: ${(cause as Error).message}`);
  }
}

/** A special token as tokenizer_config.json writes it: a string, or (newer files) an AddedToken object. */
function tokenOf(v: unknown, fallback: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return fallback;
}

/** BertTokenizer's settings from a tokenizer_config.json (absent keys take BertTokenizer's defaults). */
export function wordPieceOptionsFrom(config: Record<string, unknown>): WordPieceOptions {
  const d = BERT_TOKENIZER_DEFAULTS;
  return {
    lowercase: typeof config.do_lower_case === 'boolean' ? config.do_lower_case : d.lowercase,
    tokenizeChineseChars: typeof config.tokenize_chinese_chars === 'boolean' ? config.tokenize_chinese_chars : d.tokenizeChineseChars,
    stripAccents: typeof config.strip_accents === 'boolean' ? config.strip_accents : null,
    unkToken: tokenOf(config.unk_token, d.unkToken),
    clsToken: tokenOf(config.cls_token, d.clsToken),
    sepToken: tokenOf(config.sep_token, d.sepToken),
    padToken: tokenOf(config.pad_token, d.padToken),
    maskToken: tokenOf(config.mask_token, d.maskToken),
  };
}

export interface HfTokenizer {
  readonly json: string;
  readonly maxLength?: number;
  readonly built: boolean;
}

/** tokenizer.json when the checkpoint has one, else the BertTokenizer that vocab.txt + tokenizer_config.json describe. */
export async function loadHfTokenizer(dir: string): Promise<HfTokenizer> {
  const tokConfig = (await readJsonFile(join(dir, 'tokenizer_config.json'))) ?? {};
  const max = tokConfig.model_max_length;
  const maxLength = typeof max === 'number' && Number.isInteger(max) && max > 0 && max < 1e6 ? max : undefined;
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (await pathExists(tokenizerPath)) return { json: await readFile(tokenizerPath, 'utf8'), maxLength, built: false };
  const vocabPath = join(dir, 'vocab.txt');
  if (!(await pathExists(vocabPath))) importError(`${dir}: neither tokenizer.json nor vocab.txt is present`);
  const json = buildWordPieceTokenizerJson(vocabFromText(await readFile(vocabPath, 'utf8')), wordPieceOptionsFrom(tokConfig));
  return { json, maxLength, built: true };
}

export interface BertTokenizerFiles {
  readonly files: ReadonlyMap<string, string>;
  /** What a tokenizer that is not BERT WordPiece loses in the export, if anything. */
  readonly note?: string;
}

/**
 * The tokenizer files a Hugging Face directory carries: tokenizer.json as is
 * (what AutoTokenizer loads fast), and for a BERT WordPiece tokenizer also
 * vocab.txt and a tokenizer_config.json that the slow BertTokenizer reads
 * the same way.
 */
export function hfTokenizerFiles(tokenizerJson: string, maxLength: number): BertTokenizerFiles {
  const tok = JSON.parse(tokenizerJson) as { model?: { type?: string; vocab?: Record<string, number>; unk_token?: string }; normalizer?: Record<string, unknown> | null; added_tokens?: { content: string }[] };
  const files = new Map<string, string>([['tokenizer.json', tokenizerJson]]);
  const norm = tok.normalizer;
  if (tok.model?.type !== 'WordPiece' || !tok.model.vocab || norm?.type !== 'BertNormalizer') {
    files.set('tokenizer_config.json', JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: maxLength }, null, 2) + '\n');
    return { files, note: 'the tokenizer is not BERT WordPiece: only tokenizer.json is written (load it with AutoTokenizer)' };
  }
  const byId: string[] = [];
  for (const [token, id] of Object.entries(tok.model.vocab)) byId[id] = token;
  for (let i = 0; i < byId.length; i++) {
    if (byId[i] === undefined) throw new LivetagError('LT_TOKENIZER', `tokenizer.json vocabulary has no token with id ${i}; vocab.txt cannot be written`);
  }
  const has = (t: string): boolean => tok.model!.vocab![t] !== undefined;
  const special = {
    unk_token: tok.model.unk_token ?? '[UNK]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    cls_token: '[CLS]',
    mask_token: '[MASK]',
  };
  const present = Object.fromEntries(Object.entries(special).filter(([, t]) => has(t)));
  files.set('vocab.txt', byId.join('\n') + '\n');
  files.set('special_tokens_map.json', JSON.stringify(present, null, 2) + '\n');
  files.set(
    'tokenizer_config.json',
    JSON.stringify(
      {
        tokenizer_class: 'BertTokenizer',
        do_lower_case: norm.lowercase === true,
        tokenize_chinese_chars: norm.handle_chinese_chars !== false,
        strip_accents: typeof norm.strip_accents === 'boolean' ? norm.strip_accents : null,
        model_max_length: maxLength,
        ...present,
      },
      null,
      2,
    ) + '\n',
  );
  return { files };
}
