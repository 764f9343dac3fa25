import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isLivetagError } from '../../../../src/common/errors.ts';
import { readCorpus } from '../../../../src/training/pretrain/corpus.ts';
import { tempDir } from '../../../helpers/shared.ts';

test('corpus files: .jsonl and .ndjson read their "text" field, .txt a text a line; JSON arrays and compressed files are refused, not read as text', async () => {
  const dir = tempDir();
  const rows = (texts: string[]) => texts.map((text) => JSON.stringify({ text, user: 'u' })).join('\n') + '\n';
  writeFileSync(join(dir, 'a.jsonl'), rows(['这个多少钱', 'M码还有吗']));
  writeFileSync(join(dir, 'b.ndjson'), rows(['什么时候发货']));
  writeFileSync(join(dir, 'c.txt'), '包邮吗\n黑色还有货吗\n');
  const corpus = await readCorpus([join(dir, 'a.jsonl'), join(dir, 'b.ndjson'), join(dir, 'c.txt')], undefined, () => {});
  assert.deepEqual(corpus.texts, ['这个多少钱', 'M码还有吗', '什么时候发货', '包邮吗', '黑色还有货吗']);
  // A directory takes the same kinds of file and leaves others alone.
  writeFileSync(join(dir, 'd.json'), JSON.stringify([{ text: '一个数组' }]));
  assert.equal((await readCorpus([dir], undefined, () => {})).texts.length, 5);
  writeFileSync(join(dir, 'e.jsonl.gz'), gzipSync(rows(['压缩的'])));
  for (const f of ['d.json', 'e.jsonl.gz']) {
    await assert.rejects(readCorpus([join(dir, f)], undefined, () => {}), (e: unknown) => isLivetagError(e, 'LT_DATA') && e.message.includes(`${f}: not read`), f);
  }
});

test('a --data path that does not exist is a usage error (exit 2) naming it, not "no usable data"', async () => {
  const missing = join(tempDir(), 'mistyped.jsonl');
  await assert.rejects(readCorpus([missing], undefined, () => {}), (err: unknown) => isLivetagError(err, 'LT_USAGE') && err.message === `${missing}: no such file or directory`);
});

test('extensions are matched whatever their case (EXPORT.JSONL is JSON, not raw lines), and a folder named like a file is not read', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'EXPORT.JSONL'), JSON.stringify({ text: '好看', labels: ['外观'] }) + '\n');
  mkdirSync(join(dir, 'archive.jsonl'));
  // A link to a file is read (ConfigMap mounts), one to a folder is not.
  const elsewhere = tempDir();
  writeFileSync(join(elsewhere, 'linked.jsonl'), JSON.stringify({ text: '链接来的' }) + '\n');
  symlinkSync(join(elsewhere, 'linked.jsonl'), join(dir, 'b-linked.jsonl'));
  symlinkSync(elsewhere, join(dir, 'folder.jsonl'));
  const corpus = await readCorpus([dir], undefined, () => {});
  assert.deepEqual(corpus.texts, ['好看', '链接来的']);
  assert.deepEqual((await readCorpus([join(dir, 'EXPORT.JSONL')], undefined, () => {})).texts, ['好看']);
});

test('skipped lines of a JSONL file are told apart (not JSON vs no text) and the first is named by line, so a broken export can be found', async () => {
  const file = join(tempDir(), 'export.jsonl');
  writeFileSync(file, ['{"text":"这个多少钱"}', '', '{"msg":"no text field"}', '{broken', '{"text":"包邮吗"}', 'also broken'].join('\n') + '\n');
  const lines: string[] = [];
  const corpus = await readCorpus([file], undefined, (l) => lines.push(l));
  assert.deepEqual(corpus.texts, ['这个多少钱', '包邮吗']);
  assert.deepEqual(corpus.sources, [{ name: file, read: 5, kept: 2, skipped: 3, notJson: 2, firstSkippedLine: 3 }]);
  assert.ok(lines.includes(`corpus: ${file}: 5 records, 2 new texts, 3 without text (2 not JSON; first at line 3)`), lines.join('\n'));
  const clean = join(tempDir(), 'clean.jsonl');
  writeFileSync(clean, '{"text":"M码还有吗"}\n');
  assert.deepEqual((await readCorpus([clean], undefined, () => {})).sources, [{ name: clean, read: 1, kept: 1, skipped: 0 }], 'a clean file reports no skip fields');
});
