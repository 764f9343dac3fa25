/**
 * Two builds of the default model side by side, for the README's table
 * ("The default model"):
 *
 *   git archive <rev> models/default | tar -x -C /tmp/old
 *   node --import tsx bench/default-model-compare.ts --old /tmp/old/models/default [--new models/default] [--rounds 3] [--train-count 20000]
 *
 * - tags on 2000 fresh generated comments (`generate --seed 7`), all of them
 *   and those whose text is not among the comments either build trained on
 *   (the first --train-count of `generate --seed 2026`), scored as `livetag eval` scores;
 * - the share of the tianchi reviews' characters outside each vocabulary
 *   (texts the new vocabulary was not built from; read, never trained on);
 * - the share of the 10,000 real live comments given any tag, and on the 703 of
 *   them labeled by hand (bench/data/livechat-douyin-labels.json): how many
 *   untagged comments got a tag, and tag precision / recall, per split (dev and
 *   test at random, keyword: the lines that name a commerce word);
 * - texts/s in process on one thread over the live comments in batches of 64,
 *   the builds (and the new one's BERT alone, as the suite runs it) alternated.
 * Writes bench/results/default-model-compare.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createCommentGenerator } from '../src/demo/comment-generator.ts';
import { createClassifier } from '../src/model/runtime/classifier.ts';
import { loadBundle } from '../src/model/runtime/load-bundle.ts';
import { validateRecords, type RawRecord } from '../src/training/data.ts';
import { evaluateBundle } from '../src/training/evaluate.ts';
import { LIVE_SPLITS, liveCells, liveLabeledRows, scoreLive } from './lib/live-labels.ts';
import { plainBertBundle } from './lib/plain-bundle.ts';
import { f } from './lib/suite-report.ts';
import { liveComments, REPO_ROOT, SHARED_DIR } from './lib/texts.ts';

const { values } = parseArgs({ options: { old: { type: 'string' }, new: { type: 'string', default: 'models/default' }, rounds: { type: 'string', default: '3' }, 'train-count': { type: 'string', default: '20000' } } });
if (!values.old) throw new Error('--old DIR: the earlier build of the default model (e.g. git archive <rev> models/default)');
const builds = { before: resolve(values.old), now: resolve(values.new) };
const log = (m: string): void => void process.stderr.write(`[compare] ${m}\n`);

const generated = (seed: number, count: number) => {
  const g = createCommentGenerator({ seed });
  return Array.from({ length: count }, () => g.next());
};
// scripts/build-default-model.ts trains on the first N of `generate --seed 2026`; the earlier build on the first 5000 of the same stream.
const trainingTexts = new Set(generated(2026, Number(values['train-count'])).map((c) => c.text));
const fresh = generated(7, 2000);
const asRows = (comments: readonly { text: string; labels: readonly string[] }[], labels: readonly string[]) => {
  const records: RawRecord[] = comments.map((c, i) => ({ source: 'generated seed 7', position: i + 1, value: JSON.stringify({ text: c.text, labels: c.labels }) }));
  return validateRecords([], records, { labels }).rows;
};

const { texts: live, source } = liveComments();
const tianchiPath = join(SHARED_DIR, 'data/tianchi-makeup/labeled.jsonl');
const tianchi = existsSync(tianchiPath) ? readFileSync(tianchiPath, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text) : undefined;

/** Characters (not whitespace) whose lower-cased form is not a token of the bundle's vocabulary. */
async function unknownShare(dir: string, texts: readonly string[]): Promise<number> {
  const vocab = (JSON.parse((await loadBundle(dir)).tokenizerJson) as { model: { vocab: Record<string, number> } }).model.vocab;
  let all = 0;
  let unknown = 0;
  for (const t of texts)
    for (const ch of t) {
      if (/\s/.test(ch)) continue;
      all++;
      if (!(ch in vocab) && !(ch.toLowerCase() in vocab)) unknown++;
    }
  return unknown / all;
}

const rows: string[] = [];
const row = (name: string, cells: string[]): void => void rows.push(`| ${name} | ${cells.join(' | ')} |`);
const quality: Record<string, string[]> = { all: [], unseen: [], unknown: [], tagged: [] };
const handLabeled = liveLabeledRows();
const hand: Record<string, string[]> = {};
for (const [name, dir] of Object.entries(builds)) {
  log(`scoring ${name}: ${dir}`);
  const labels = (await loadBundle(dir)).manifest.labels;
  for (const [key, comments] of [['all', fresh], ['unseen', fresh.filter((c) => !trainingTexts.has(c.text))]] as const) {
    const { metrics } = await evaluateBundle(dir, asRows(comments, labels), { threads: 1 });
    quality[key].push(`${f(metrics.subset_accuracy, 3)} / ${f(metrics.macro_f1, 3)} (${metrics.samples})`);
  }
  quality.unknown.push(tianchi ? `${f((await unknownShare(dir, tianchi)) * 100, 1)} %` : '– (../shared absent)');
  const c = await createClassifier({ bundle: dir, worker: false, threads: 1, variant: 'base' });
  let tagged = 0;
  for (let i = 0; i < live.length; i += 64) for (const r of await c.classify(live.slice(i, i + 64))) if (r.tags.length > 0) tagged++;
  if (!('missing' in handLabeled))
    for (const split of LIVE_SPLITS) {
      const rows = handLabeled.rows[split];
      const cells = liveCells(scoreLive(rows, (await c.classify(rows.map((r) => r.text))).map((r) => r.tags.map((t) => t.label))));
      for (const [k, v] of Object.entries(cells)) (hand[`${split}/${k}`] ??= []).push(v);
    }
  await c.stop();
  quality.tagged.push(`${f((tagged / live.length) * 100, 1)} %`);
}

log('speed, alternated');
const plain = await plainBertBundle(builds.now, resolve(REPO_ROOT, '.cache/models'));
// Timed in this order each round: before, now, now's BERT alone (the suite's graph).
const classifiers = await Promise.all([builds.before, builds.now, plain].map((b) => createClassifier({ bundle: b, worker: false, threads: 1, variant: 'base' })));
const rates: number[][] = classifiers.map(() => []);
for (const c of classifiers) for (let i = 0; i < Math.min(2000, live.length); i += 64) await c.classify(live.slice(i, i + 64));
for (let round = 0; round < Number(values.rounds); round++)
  for (const [k, c] of classifiers.entries()) {
    const t0 = performance.now();
    for (let i = 0; i < live.length; i += 64) await c.classify(live.slice(i, i + 64));
    rates[k].push(live.length / ((performance.now() - t0) / 1000));
  }
for (const c of classifiers) await c.stop();

row('2000 fresh generated comments (`generate --seed 7`): subset accuracy / macro-F1 (distinct rows)', quality.all);
row('the same, those whose text neither build trained on', quality.unseen);
row('characters of the tianchi reviews outside the vocabulary', quality.unknown);
row(`real live comments given any tag (${source})`, quality.tagged);
const HAND_ROWS: Record<string, string> = {
  fired: 'hand-labeled live comments, {split} ({n}): those with no tag that got one',
  precisionRecall: '· tag precision / recall',
  commerce: '· the same without `host`',
  exact: '· exact tag set',
};
if ('missing' in handLabeled) row('hand-labeled live comments', [`– (${handLabeled.missing})`, '–']);
else
  for (const split of LIVE_SPLITS)
    for (const [k, label] of Object.entries(HAND_ROWS)) row(label.replace('{split}', split).replace('{n}', String(handLabeled.rows[split].length)), hand[`${split}/${k}`]);
const span = (r: number[]): string => `${f(Math.min(...r), 0)}–${f(Math.max(...r), 0)}`;
row('texts/s, one thread, in process, batches of 64', [span(rates[0]), span(rates[1])]);
const md = [
  '# The default model: two builds side by side',
  '',
  `\`node --import tsx bench/default-model-compare.ts --old ${values.old} --new ${values.new} --rounds ${values.rounds} --train-count ${values['train-count']}\` (${new Date().toISOString().slice(0, 16)}Z)`,
  '',
  '| | before | now |',
  '|---|---:|---:|',
  ...rows,
  '',
  `The new build's BERT without its wide branch, alternated with the two: ${span(rates[2])} texts/s.`,
  '',
  'The row of all 10,000 live comments counts texts a build may have read: scripts/build-default-model.ts pretrains on the unscored ones and trains on them as untagged background. Only the hand-labeled lines are held out of both.',
].join('\n');
mkdirSync(resolve(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(resolve(REPO_ROOT, 'bench/results/default-model-compare.md'), md + '\n');
process.stdout.write(md + '\n');
