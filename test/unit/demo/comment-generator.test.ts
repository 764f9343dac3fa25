import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { createCommentGenerator, type GeneratedComment } from '../../../src/demo/comment-generator.ts';
import { COLORS } from '../../../src/demo/generator-vocab.ts';
import { DEFAULT_LABELS } from '../../../src/model/labels.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';

const N = 5000;
const sample = createCommentGenerator({ seed: 1 }).take(N);
const tagged = sample.filter((c) => c.labels.length > 0);
const length = (s: string): number => [...s].length;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

test('same seed, same comments; another seed, other comments', () => {
  const a = createCommentGenerator({ seed: 7 }).take(300);
  const b = createCommentGenerator({ seed: 7 });
  assert.deepEqual([...b.take(100), ...b.take(200)], a);
  const c = createCommentGenerator({ seed: 8 }).take(300);
  assert.ok(a.filter((x, i) => x.text === c[i].text).length < 60, 'seeds 7 and 8 should give mostly different texts');
  assert.deepEqual(createCommentGenerator().take(50), createCommentGenerator({ seed: 1 }).take(50));
});

test('every comment is well-formed: known labels in DEFAULT_LABELS order, room-N, uN, non-empty trimmed text', () => {
  for (const c of sample) {
    assert.deepEqual(Object.keys(c).sort(), ['labels', 'room', 'text', 'user']);
    assert.ok(c.text.length > 0 && c.text === c.text.trim(), JSON.stringify(c));
    assert.match(c.room, /^room-\d+$/);
    assert.match(c.user, /^u\d{4,5}$/);
    const idx = c.labels.map((l) => (DEFAULT_LABELS as readonly string[]).indexOf(l));
    assert.ok(idx.every((i) => i >= 0), `unknown label in ${JSON.stringify(c)}`);
    assert.deepEqual(idx, [...new Set(idx)].sort((x, y) => x - y), `labels not unique and ordered: ${JSON.stringify(c)}`);
  }
});

test('label distribution: every tag, a long tail, ~40% chit-chat, about a quarter multi-tag', () => {
  const counts = new Map<string, number>(DEFAULT_LABELS.map((l) => [l, 0]));
  for (const c of sample) for (const l of c.labels) counts.set(l, counts.get(l)! + 1);
  for (const [label, n] of counts) assert.ok(n > 0, `label ${label} never generated`);
  const sorted = [...counts.values()].sort((a, b) => a - b);
  assert.ok(sorted.at(-1)! >= 5 * sorted[0], `not skewed enough: ${JSON.stringify([...counts])}`);
  for (const frequent of ['price', 'link', 'size']) {
    for (const rare of ['gift', 'after_sales', 'material']) assert.ok(counts.get(frequent)! > 3 * counts.get(rare)!, `${frequent} vs ${rare}`);
  }
  const chitChat = 1 - tagged.length / N;
  assert.ok(chitChat >= 0.3 && chitChat <= 0.5, `chit-chat share ${chitChat}`);
  const multi = tagged.filter((c) => c.labels.length >= 2).length / tagged.length;
  assert.ok(multi >= 0.15 && multi <= 0.4, `multi-label share ${multi}`);
});

test('texts look like live chat: short, emoji codes, typos, some exact repeats but not too many', () => {
  const lengths = sample.map((c) => length(c.text));
  const med = median(lengths);
  assert.ok(med >= 4 && med <= 20, `median length ${med}`);
  const p99 = [...lengths].sort((a, b) => a - b)[Math.floor(0.99 * N)];
  assert.ok(p99 <= 30, `p99 length ${p99}`);

  const emojiCodes = sample.filter((c) => /\[[^\]\s]{1,5}\]/.test(c.text)).length / N;
  assert.ok(emojiCodes > 0.03 && emojiCodes < 0.2, `emoji-code share ${emojiCodes}`);
  const typos = tagged.filter((c) => /多少前|多少qian|发后|发伙|优惠卷|优惠劵|链捷|链结|连接|码子|尺马|马|包油|增品|主包|主bo|补或/.test(c.text)).length;
  assert.ok(typos / tagged.length > 0.02, `typo share ${typos / tagged.length}`);
  assert.ok(sample.some((c) => /啥|咋/.test(c.text)), 'colloquial 啥/咋 missing');

  const counts = new Map<string, number>();
  for (const c of sample) counts.set(c.text, (counts.get(c.text) ?? 0) + 1);
  const duplicates = 1 - counts.size / N;
  assert.ok(duplicates > 0.02 && duplicates <= 0.3, `duplicate share ${duplicates}`);
  assert.ok(Math.max(...counts.values()) >= 3, 'the common one-liners (这个多少钱, 晚上好) should repeat');
});

test('labels are consistent with the text: the same text never gets two label sets, intent words imply their tag', () => {
  const many = createCommentGenerator({ seed: 3 }).take(20000);
  const seen = new Map<string, string>();
  for (const c of many) {
    const key = c.labels.join(',');
    const before = seen.get(c.text);
    // A conflict would make the training job drop every copy of the text.
    assert.ok(before === undefined || before === key, `"${c.text}" labeled [${before}] and [${key}]`);
    seen.set(c.text, key);
  }
  const implies: Array<[RegExp, string]> = [
    [/多少钱|多少前|多少米|多少qian|价格|价钱|到手价/, 'price'],
    [/链接|链捷|链结|lian接|小黄车/, 'link'],
    // 码 in everyday words (起码, 号码, 密码, 健康码, 码头) is open chit-chat's lookalike, not a size.
    [/(?<!起|号|密|康)码(?!头)|\d+斤/, 'size'],
    [/包邮|包油|快递|顺丰|发货|发后/, 'shipping'],
    [/优惠券|优惠卷|满减|秒杀/, 'discount'],
    [/颜色|色号/, 'color'],
    [/面料|材质|纯棉|成分|配料/, 'material'],
    [/赠品|增品|福袋/, 'gift'],
    [/退货|退款|无理由|运费险/, 'after_sales'],
    [new RegExp(COLORS.join('|')), 'color'],
  ];
  for (const c of many) {
    for (const [pattern, label] of implies) {
      if (pattern.test(c.text)) assert.ok(c.labels.includes(label), `"${c.text}" [${c.labels}] should have ${label}`);
    }
    if (c.labels.length === 0) assert.doesNotMatch(c.text, /主播|主包|小姐姐/, `chit-chat mentions the host: "${c.text}"`);
  }
});

test('a label subset generates only those tags, in the order given; unknown labels are refused', () => {
  const gen = createCommentGenerator({ seed: 2, labels: ['link', 'price', 'color'] });
  assert.deepEqual(gen.labels, ['link', 'price', 'color']);
  const out = gen.take(2000);
  const used = new Set(out.flatMap((c) => c.labels));
  assert.deepEqual([...used].sort(), ['color', 'link', 'price']);
  const rank = (l: string): number => ['link', 'price', 'color'].indexOf(l);
  for (const c of out) assert.deepEqual(c.labels, [...c.labels].sort((a, b) => rank(a) - rank(b)));
  assert.ok(out.some((c) => c.labels.length === 0));

  for (const labels of [['price', 'refund'], [], ['price', 'price']]) {
    assert.throws(() => createCommentGenerator({ labels }), (err) => isLivetagError(err, 'LT_CONFIG_INVALID'));
  }
  assert.throws(() => createCommentGenerator().take(-1), (err) => isLivetagError(err, 'LT_CONFIG_INVALID'));
});

const bin = join(REPO_ROOT, 'bin/livetag.js');

function livetag(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('livetag generate writes valid JSONL, the same comments as the API for the seed', () => {
  const r = livetag(['generate', '--count', '50', '--seed', '1']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 50);
  const parsed = lines.map((l) => JSON.parse(l) as GeneratedComment);
  assert.deepEqual(parsed, createCommentGenerator({ seed: 1 }).take(50));

  const stream = livetag(['generate', '--count', '5', '--seed', '1', '--no-labeled']);
  assert.equal(stream.code, 0, stream.stderr);
  for (const l of stream.stdout.trimEnd().split('\n')) assert.deepEqual(Object.keys(JSON.parse(l)), ['text', 'room', 'user']);

  const text = livetag(['generate', '--count', '5', '--seed', '1', '--format', 'text']);
  assert.equal(text.code, 0, text.stderr);
  assert.deepEqual(text.stdout.trimEnd().split('\n'), parsed.slice(0, 5).map((c) => c.text));

  for (const bad of [['--count', 'x'], ['--labels', 'price,refund']]) {
    const u = livetag(['generate', ...bad]);
    assert.equal(u.code, 2, `${bad.join(' ')}: ${u.stderr}`);
    assert.match(u.stderr, /LT_USAGE/);
  }
});

test('chit-chat is open: mostly distinct texts, everyday uses of intent words untagged, laughter around questions too', () => {
  const untagged = sample.filter((c) => c.labels.length === 0).map((c) => c.text);
  // The one-liners alone gave a few hundred distinct texts; a closed list teaches a model that anything unseen is a question.
  assert.ok(new Set(untagged).size / untagged.length > 0.6, `distinct chit-chat ${new Set(untagged).size} of ${untagged.length}`);
  for (const everyday of [/什么时候/, /多少/, /\d+号/, /能不能|可以.*吗/]) assert.ok(untagged.some((t) => everyday.test(t)), `no untagged text matches ${everyday}`);
  assert.ok(untagged.some((t) => /^[a-z' ]+$/.test(t)), 'no English chit-chat');
  assert.ok(tagged.some((c) => /哈哈|嘿嘿|宝子们|家人们/.test(c.text)), 'no question carries laughter or an address to the room');
});
