import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadHfTokenizer, wordPieceOptionsFrom, BERT_TOKENIZER_DEFAULTS } from '../../../src/model/build/hf-tokenizer.ts';
import { createTextEncoder } from '../../../src/model/tokenizer.ts';
import { sharedPath, tempDir } from '../../helpers/shared.ts';

const bertBaseChinese = sharedPath('tokenizers/bert-base-chinese');
const comments = sharedPath('data/livechat-douyin/comments.jsonl');
const root = tempDir();

test('vocab.txt + tokenizer_config.json of bert-base-chinese give the ids of its tokenizer.json on 10k live comments', async (t) => {
  if (!bertBaseChinese.path) return t.skip(bertBaseChinese.skip);
  if (!comments.path) return t.skip(comments.skip);
  const dir = join(root, 'bert-base-chinese');
  await mkdir(dir, { recursive: true });
  await copyFile(join(bertBaseChinese.path, 'vocab.txt'), join(dir, 'vocab.txt'));
  // bert-base-chinese's own tokenizer_config.json says only this.
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
  const built = await loadHfTokenizer(dir);
  assert.equal(built.built, true);
  const texts = (await readFile(comments.path, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
  assert.equal(texts.length, 10000);
  const mine = createTextEncoder(built.json, 512);
  const reference = createTextEncoder(await readFile(join(bertBaseChinese.path, 'tokenizer.json'), 'utf8'), 512);
  const a = await mine.ids(texts);
  const b = await reference.ids(texts);
  let differ = 0;
  for (let i = 0; i < texts.length; i++) if (a[i].join() !== b[i].join()) differ++;
  assert.equal(differ, 0, `${differ} of ${texts.length} comments tokenize differently`);
  assert.ok(a.flat().length > 70000, 'the comments were really tokenized');
});

test("a silent tokenizer_config.json takes BertTokenizer's defaults (lowercase, accents stripped, Chinese split)", () => {
  assert.deepEqual(wordPieceOptionsFrom({}), BERT_TOKENIZER_DEFAULTS);
  assert.equal(BERT_TOKENIZER_DEFAULTS.lowercase, true);
  const o = wordPieceOptionsFrom({ do_lower_case: false, strip_accents: true, unk_token: { content: '<unk>', __type: 'AddedToken' }, tokenize_chinese_chars: false });
  assert.deepEqual([o.lowercase, o.stripAccents, o.unkToken, o.tokenizeChineseChars], [false, true, '<unk>', false]);
});
