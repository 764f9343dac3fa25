import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { formatDataReport, textKey, validateRecords, type RawRecord } from '../../../src/training/data.ts';
import { listDataFiles, readJsonlRecords } from '../../../src/training/data-files.ts';
import { parseLabelList } from '../../../src/model/labels.ts';
import { tempDir } from '../../helpers/shared.ts';

const rec = (value: unknown, position: number, source = 'new.jsonl'): RawRecord => ({
  source,
  position,
  value: typeof value === 'string' ? value : JSON.stringify(value),
});

test('every kind of bad row is reported by source and line, and skipped', () => {
  const fresh = [
    rec({ text: 'good one', labels: ['price'] }, 1),
    rec('{"text": "broken', 2),
    rec({ text: 'no labels field' }, 3),
    rec({ text: '   ', labels: ['price'] }, 4),
    rec({ text: 'x'.repeat(50), labels: ['price'] }, 5),
    rec({ text: 'mystery tag', labels: ['price', 'teleport'] }, 6),
    rec({ text: 'good one', labels: ['price'] }, 7),
    rec({ text: 'which is it', labels: ['price'] }, 8),
    rec({ text: 'which is it', labels: ['size'] }, 9),
    rec([1, 2], 10),
  ];
  const { rows, report } = validateRecords([], fresh, { labels: ['price', 'size'], maxChars: 20 });
  assert.deepEqual(rows.map((r) => r.text), ['good one']);
  assert.deepEqual(report.counts, {
    'invalid-json': 1,
    'invalid-row': 2,
    'empty-text': 1,
    'too-long': 1,
    'unknown-label': 1,
    duplicate: 1,
    conflict: 2,
  });
  assert.equal(report.rejected, 8);
  assert.equal(report.accepted, 1);
  const at = (kind: string) => report.issues.filter((i) => i.kind === kind).map((i) => i.position);
  assert.deepEqual(at('invalid-json'), [2]);
  assert.deepEqual(at('invalid-row'), [3, 10]);
  assert.deepEqual(at('empty-text'), [4]);
  assert.deepEqual(at('too-long'), [5]);
  assert.deepEqual(at('unknown-label'), [6]);
  assert.deepEqual(at('duplicate'), [7]);
  assert.deepEqual(at('conflict'), [8, 9]);
  assert.match(report.issues.find((i) => i.kind === 'unknown-label')!.detail, /"teleport"/);
  const text = formatDataReport(report);
  assert.match(text, /new\.jsonl:2: invalid-json/);
  assert.match(text, /new\.jsonl:9: conflict/);
});

test('unknown labels can be added on request', () => {
  const { rows, labels, report } = validateRecords([], [rec({ text: 'a', labels: ['new-tag'] }, 1)], {
    labels: ['price'],
    addUnknownLabels: true,
  });
  assert.equal(rows.length, 1);
  assert.deepEqual(labels, ['price', 'new-tag']);
  assert.deepEqual(report.labelsAdded, ['new-tag']);
});

test('an open label set is ordered by frequency', () => {
  const { labels } = validateRecords([], [rec({ text: 'a', labels: ['x', 'y'] }, 1), rec({ text: 'b', labels: ['y'] }, 2)]);
  assert.deepEqual(labels, ['y', 'x']);
});

test('new labels for a previous text replace the old ones (relabel); previous rows are kept', () => {
  const previous = [rec({ id: 'p1', text: 'old text', labels: ['price'] }, 1, 'prev'), rec({ id: 'p2', text: 'kept', labels: ['size'] }, 2, 'prev')];
  const fresh = [rec({ text: 'old text', labels: ['size'] }, 1)];
  const { rows, report } = validateRecords(previous, fresh, { labels: ['price', 'size'] });
  const byText = new Map(rows.map((r) => [r.text, r]));
  assert.deepEqual(byText.get('old text')!.labels, ['size']);
  assert.equal(byText.get('old text')!.key, textKey('old text'));
  assert.equal(byText.get('kept')!.origin, 'previous');
  assert.equal(report.counts.relabeled, 1);
  assert.equal(report.previousRows, 1);
  assert.equal(report.newRows, 1);
});

test('rows with an empty label list are valid negatives', () => {
  const { rows, report } = validateRecords([], [rec({ text: 'hello', labels: [] }, 1)], { labels: ['price'] });
  assert.equal(rows.length, 1);
  assert.equal(report.rejected, 0);
});

test('a data path that does not exist is a usage error naming it; one that cannot be read otherwise stays LT_DATA', async () => {
  const dir = tempDir();
  const missing = join(dir, 'labels-typo.jsonl');
  await assert.rejects(listDataFiles(missing), (err: unknown) => isLivetagError(err, 'LT_USAGE') && err.message === `${missing}: no such file or directory`);
  // Other failures (here a file used as a directory) are not a typo: they stay LT_DATA.
  const file = join(dir, 'file.jsonl');
  writeFileSync(file, '');
  await assert.rejects(listDataFiles(join(file, 'x.jsonl')), (err: unknown) => isLivetagError(err, 'LT_DATA') && /cannot be read \(ENOTDIR\)/.test(err.message));
});

const readAll = async (file: string): Promise<RawRecord[]> => {
  const out: RawRecord[] = [];
  for await (const r of readJsonlRecords(file)) out.push(r);
  return out;
};

test('a UTF-8 file with a BOM keeps its first row; CRLF and a last line without newline read as the rest', async () => {
  const file = join(tempDir(), 'bom.jsonl');
  const rows = ['{"text":"这个多少钱","labels":["price"]}', '', '{"text":"M码还有吗","labels":["size"]}'];
  writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows.join('\r\n'))]));
  const records = await readAll(file);
  assert.deepEqual(records.map((r) => [r.position, r.value]), [[1, rows[0]], [3, rows[2]]]);
  const { rows: valid, report } = validateRecords([], records);
  assert.equal(valid.length, 2);
  assert.equal(report.rejected, 0);
});

test('a file that is not UTF-8 (a GBK export) is LT_DATA naming the file and line, not rows of U+FFFD collapsing into one', async () => {
  const file = join(tempDir(), 'gbk.jsonl');
  // "这个多少钱" in GBK after a valid first line.
  writeFileSync(file, Buffer.concat([Buffer.from('{"text":"ok","labels":[]}\n{"text":"'), Buffer.from([0xd5, 0xe2, 0xb8, 0xf6, 0xb6, 0xe0, 0xc9, 0xd9, 0xc7, 0xae]), Buffer.from('","labels":[]}\n')]));
  await assert.rejects(readAll(file), (err: unknown) => isLivetagError(err, 'LT_DATA') && /gbk\.jsonl: not UTF-8 .*line 2.*iconv/.test(err.message));
  // Past the first chunk, the line is counted from the bytes before the bad one; a surrogate encoded (CESU-8) is bad too.
  const late = join(tempDir(), 'late.jsonl');
  const good = '{"text":"好","labels":[]}\n'.repeat(5000);
  writeFileSync(late, Buffer.concat([Buffer.from(good), Buffer.from('{"text":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]));
  await assert.rejects(readAll(late), (err: unknown) => isLivetagError(err, 'LT_DATA') && new RegExp(`byte ${Buffer.byteLength(good) + 9}, line 5001\\)`).test(err.message));
  // A multi-byte character split across read chunks is not mistaken for bad bytes.
  const big = join(tempDir(), 'big.jsonl');
  const line = JSON.stringify({ text: '多'.repeat(30_000), labels: [] });
  writeFileSync(big, `${line}\n${line}\n`);
  assert.equal((await readAll(big)).length, 2);
});

test('a data folder reads *.jsonl and *.ndjson in any case and skips folders (a folder named x.jsonl crashed the run)', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.jsonl'), '');
  writeFileSync(join(dir, 'B.JSONL'), '');
  writeFileSync(join(dir, 'c.ndjson'), '');
  writeFileSync(join(dir, 'notes.txt'), '');
  mkdirSync(join(dir, 'sub.jsonl'));
  assert.deepEqual((await listDataFiles(dir)).map((f) => f.slice(dir.length + 1)), ['B.JSONL', 'a.jsonl', 'c.ndjson']);
  // An empty drop folder is no error: a run may still have its labels topic and base rows.
  const empty = tempDir();
  writeFileSync(join(empty, 'rows.csv'), '');
  assert.deepEqual(await listDataFiles(empty), []);
});

test('a blank label name rejects its row (a broken export, not a negative); labels named like Object\'s own properties count as labels', () => {
  const { rows, report } = validateRecords([], [rec({ text: 'a', labels: ['', ' '] }, 1), rec({ text: 'b', labels: ['__proto__'] }, 2), rec({ text: 'c', labels: ['constructor', '__proto__'] }, 3)]);
  assert.equal(report.counts['invalid-row'], 1);
  assert.match(formatDataReport(report), /new\.jsonl:1: invalid-row: "labels" holds an empty name/);
  assert.deepEqual(rows.map((r) => r.text), ['b', 'c']);
  assert.deepEqual(report.labelCounts, Object.fromEntries([['__proto__', 2], ['constructor', 1]]));
  assert.equal(report.labelCounts.constructor, 1);
});

test('--labels naming a label twice is a usage error before any work', () => {
  assert.throws(() => parseLabelList('price, size,price'), (err: unknown) => isLivetagError(err, 'LT_USAGE') && /"price" more than once/.test(err.message));
  assert.deepEqual(parseLabelList(' price,,size '), ['price', 'size']);
});

test('on a labels topic, a later record of one partition corrects an earlier one for the same text; across files it stays a conflict', () => {
  const k = (value: unknown, offset: string, partition = 0): RawRecord => ({ source: `kafka:labels/${partition}`, position: offset, value: JSON.stringify(value) });
  const { rows, report } = validateRecords([], [k({ text: '包邮吗', labels: ['price'] }, '41'), k({ text: '包邮吗', labels: ['shipping'] }, '42'), k({ text: '多少钱', labels: ['price'] }, '43')]);
  assert.deepEqual(rows.map((r) => [r.text, r.labels]), [['包邮吗', ['shipping']], ['多少钱', ['price']]]);
  assert.equal(report.counts.conflict, undefined);
  assert.match(formatDataReport(report), /kafka:labels\/0:42: relabeled: "包邮吗" was \[price\] at offset 41, corrected to \[shipping\]/);
  const files = validateRecords([], [rec({ text: '包邮吗', labels: ['price'] }, 1), rec({ text: '包邮吗', labels: ['shipping'] }, 2)]);
  assert.equal(files.rows.length, 0);
  assert.equal(files.report.counts.conflict, 2);
  const partitions = validateRecords([], [k({ text: '包邮吗', labels: ['price'] }, '9', 0), k({ text: '包邮吗', labels: ['shipping'] }, '3', 1)]);
  assert.equal(partitions.report.counts.conflict, 2, 'no order across partitions');
});

test('lines end at LF, CRLF or a lone CR, as readline splits them; a 32 MB line reads in linear time', async () => {
  const cr = join(tempDir(), 'cr.jsonl');
  writeFileSync(cr, '{"text":"a","labels":[]}\r{"text":"b","labels":[]}\r');
  assert.deepEqual((await readAll(cr)).map((r) => [r.position, r.value]), [[1, '{"text":"a","labels":[]}'], [2, '{"text":"b","labels":[]}']]);
  const long = join(tempDir(), 'long.jsonl');
  writeFileSync(long, `{"text":"${'多'.repeat(11_000_000)}","labels":[]}\n{"text":"ok","labels":[]}\n`);
  const started = Date.now();
  const records = await readAll(long);
  assert.deepEqual(records.map((r) => r.position), [1, 2]);
  assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms for 33 MB`);
});
