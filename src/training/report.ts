/**
 * The run report: report.json (everything, machine-readable), report.md (for
 * a person) and SVG charts, all in the run directory.
 */
import type { BertConfig } from '../model/bert-config.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { groupedBars, lineChart } from './charts.ts';
import { ISSUE_EFFECT, ISSUE_KINDS, type DataReport } from './data.ts';
import type { ChampionDecision } from './evaluate.ts';
import type { MultiLabelMetrics } from './metrics.ts';
import type { Recipe, ThresholdObjective } from './recipe.ts';
import type { BaselineSummary } from './steps/baseline.ts';
import type { TagCount } from '../model/runtime/select-tags.ts';
import { MACRO_F1_WEIGHT, RARE_POSITIVES } from './thresholds.ts';
import { describeCs } from './linear-baseline.ts';
import type { EpochRecord } from './trainer.ts';

export interface RunReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly wallSeconds: number;
  readonly command: string;
  readonly backend: string;
  readonly recipe: Recipe;
  readonly init: { readonly kind: string; readonly from: string; readonly frozenLayers: number };
  readonly architecture: BertConfig;
  readonly labels: readonly string[];
  readonly split: { readonly seed: number; readonly train: number; readonly validation: number; readonly test: number; readonly pinnedTest: number };
  readonly data: DataReport;
  readonly history: readonly EpochRecord[];
  readonly keptEpoch: number;
  readonly stoppedEarly: boolean;
  readonly resumedFromEpoch?: number;
  readonly thresholds: Record<string, number>;
  readonly tagCount: TagCount;
  readonly posWeight?: Record<string, number>;
  readonly firstBatch: { readonly engineLoss: number; readonly onnxLoss?: number; readonly absDiff?: number; readonly rows: number; readonly ids: readonly string[] };
  readonly parity: { readonly rows: number; readonly maxAbsDiff: number; readonly tolerance: number };
  readonly throughput: { readonly samplesPerSecond: number; readonly trainSeconds: number; readonly steps: number };
  readonly validation: MultiLabelMetrics;
  readonly test: MultiLabelMetrics;
  readonly champion?: { readonly bundle: string; readonly version: string; readonly test: MultiLabelMetrics; readonly missingLabels: readonly string[] };
  readonly decision: ChampionDecision;
  /** The linear n-gram model fitted on the same split, and how the trained model compares. */
  readonly baseline?: BaselineSummary;
  /** Late fusion (recipe fusion 'late'): BERT's share of the spread-matched logits, the factor k that matched them, and every share's validation log loss. */
  readonly fusion?: { readonly bertWeight: number; readonly bertScale: number; readonly validation: ReadonlyArray<{ readonly bertWeight: number; readonly score: number }> };
  readonly bundle: { readonly dir: string; readonly version: string; readonly promotedTo?: string; readonly dataCarriedTo?: string };
}

const OBJECTIVE_TEXT: Readonly<Record<ThresholdObjective, string>> = {
  'subset-macro': `exact match + ${MACRO_F1_WEIGHT} × macro-F1`,
  'exact-match': 'exact match',
  f1: 'per-label F1',
};

const pct = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));

function metricsTable(rows: ReadonlyArray<[string, MultiLabelMetrics | undefined]>): string[] {
  const present = rows.filter((r): r is [string, MultiLabelMetrics] => r[1] !== undefined);
  return [
    `| model | subset accuracy | micro-F1 | macro-F1 | hamming loss |`,
    `|---|---:|---:|---:|---:|`,
    ...present.map(([n, m]) => `| ${n} | ${pct(m.subset_accuracy)} | ${pct(m.micro_f1)} | ${pct(m.macro_f1)} | ${pct(m.hamming_loss)} |`),
  ];
}

export function renderMarkdown(r: RunReport): string {
  const out: string[] = [];
  out.push(`# livetag training run`, '');
  out.push(`- started ${r.startedAt}, finished ${r.finishedAt} (${r.wallSeconds.toFixed(0)} s wall)`);
  out.push(`- command: \`${r.command}\``);
  out.push(`- ${r.backend}`);
  out.push(`- init: ${r.init.from}; frozen lower layers: ${r.init.frozenLayers}`);
  out.push(`- architecture: ${Object.entries(r.architecture).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')}`);
  out.push(
    `- recipe **${r.recipe.name}**: loss ${r.recipe.loss}${r.recipe.posWeight === 'auto' ? ' (positive weights)' : ''}, batch ${r.recipe.batchSize}, lr ${r.recipe.lr}, ` +
      `${r.recipe.schedule === 'linear' ? `warmup ${r.recipe.warmupRatio} + linear decay` : 'constant lr'}, weight decay ${r.recipe.weightDecay}, ` +
      `epochs ≤ ${r.recipe.maxEpochs}${r.recipe.patience > 0 ? ` (early stop, patience ${r.recipe.patience})` : ' (fixed)'}, keep ${r.recipe.keep}, thresholds ${r.recipe.thresholds}${r.recipe.thresholds === 'tuned' ? ` (for ${OBJECTIVE_TEXT[r.recipe.thresholdObjective]})` : ''}` +
      `${r.recipe.rareLabelFloor > 0 ? ` (at least ${r.recipe.rareLabelFloor} for labels with < ${RARE_POSITIVES} validation positives)` : ''}`,
  );
  out.push(`- tags per text: at least ${r.tagCount.min}, ${r.tagCount.max === null ? 'no upper bound' : `at most ${r.tagCount.max}`}${r.recipe.tagCount === 'learned' ? ' (as in the labeled rows)' : ''}`);
  out.push(`- split (seed ${r.split.seed}): train ${r.split.train}, validation ${r.split.validation}, test ${r.split.test} (${r.split.pinnedTest} pinned from the previous run)`);
  out.push(`- kept epoch ${r.keptEpoch} of ${r.history.length}${r.stoppedEarly ? ' (stopped early)' : ''}${r.resumedFromEpoch ? `; resumed after epoch ${r.resumedFromEpoch}` : ''}`);
  out.push(`- training throughput ${r.throughput.samplesPerSecond.toFixed(1)} samples/s (${r.throughput.steps} steps, ${r.throughput.trainSeconds.toFixed(0)} s)`);
  out.push(`- training engine ↔ exported graph (onnxruntime) parity on ${r.parity.rows} rows: max |Δlogit| ${r.parity.maxAbsDiff.toExponential(2)} (tolerance ${r.parity.tolerance})`);
  out.push(
    `- first-batch loss before training: training engine ${r.firstBatch.engineLoss.toFixed(6)}` +
      (r.firstBatch.onnxLoss !== undefined ? `, initial model through onnxruntime ${r.firstBatch.onnxLoss.toFixed(6)} (|Δ| ${r.firstBatch.absDiff!.toExponential(2)})` : ''),
  );
  out.push('', `## Decision: ${r.decision.decision.toUpperCase()}`, '', `${r.decision.reason}.`, '');
  out.push(
    `Challenger bundle: \`${r.bundle.dir}\` (version ${r.bundle.version})${r.bundle.promotedTo ? `, promoted to \`${r.bundle.promotedTo}\`` : ''}${r.bundle.dataCarriedTo ? `; its training data and splits carried to \`${r.bundle.dataCarriedTo}\` beside the champion, so the next run trains on them` : ''}.`,
    '',
  );
  out.push('## Test split', '');
  out.push(...metricsTable([
    ['challenger', r.test],
    [r.champion ? `champion ${r.champion.version}` : 'champion', r.champion?.test],
    ['linear n-gram baseline', r.baseline?.test],
    ['linear n-gram baseline, decided by the recipe\'s rule', r.baseline?.testModelRule],
  ]));
  if (r.baseline) out.push('', `Baseline: ${r.baseline.features}, ${describeCs(r.baseline.cs, r.labels)}, fitted in ${r.baseline.seconds.toFixed(1)} s. Verdict: ${r.baseline.verdict}.`);
  if (r.fusion) out.push('', `Late fusion: logits ${r.fusion.bertWeight.toFixed(2)}·k·BERT + ${(1 - r.fusion.bertWeight).toFixed(2)}·the linear fit, k = ${r.fusion.bertScale.toFixed(3)} giving BERT's logits the fit's spread; the share with the lowest validation log loss (by share: ${r.fusion.validation.map((s) => `${s.bertWeight.toFixed(2)} ${s.score.toFixed(4)}`).join(', ')}).`);
  out.push('', '| label | threshold | precision | recall | F1 | support | champion F1 |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const l of r.labels) {
    const m = r.test.per_label[l];
    const c = r.champion?.test.per_label[l];
    out.push(`| ${l} | ${r.thresholds[l]?.toFixed(2) ?? ''} | ${pct(m?.precision)} | ${pct(m?.recall)} | ${pct(m?.f1)} | ${m?.support ?? 0} | ${pct(c?.f1)} |`);
  }
  out.push('', '## Validation (kept epoch, shipped thresholds)', '', ...metricsTable([['challenger', r.validation]]));
  out.push('', '## Epochs', '', '| epoch | train loss | val loss | val macro-F1 | val macro-F1 @0.5 | lr | s | samples/s |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const e of r.history) {
    out.push(`| ${e.epoch} | ${e.trainLoss.toFixed(4)} | ${e.valLoss.toFixed(4)} | ${pct(e.valMacroF1)} | ${pct(e.valMacroF1At05)} | ${e.lr.toExponential(2)} | ${e.seconds.toFixed(0)} | ${e.samplesPerSecond.toFixed(1)} |`);
  }
  out.push('', '![loss and validation macro-F1](loss-f1.svg)', '', '![per-label F1](per-label-f1.svg)', '');
  out.push('## Data', '', `${r.data.accepted} rows accepted (${r.data.previousRows} from the previous training set, ${r.data.newRows} new); ${r.data.rejected} records rejected.`, '');
  const kinds = ISSUE_KINDS.filter((k) => r.data.counts[k]);
  if (kinds.length > 0) {
    out.push('| problem | count | effect |', '|---|---:|---|', ...kinds.map((k) => `| ${k} | ${r.data.counts[k]} | ${ISSUE_EFFECT[k]} |`), '');
    for (const i of r.data.issues) out.push(`- \`${i.source}${i.position === undefined ? '' : `:${i.position}`}\` ${i.kind}: ${i.detail}`);
    for (const [k, n] of Object.entries(r.data.omitted)) out.push(`- … and ${n} more ${k}`);
  } else out.push('No problems found.');
  out.push('');
  return out.join('\n');
}

export async function writeRunReport(dir: string, r: RunReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const lossF1 = lineChart(
    `${r.recipe.name}: loss and validation macro-F1 per epoch`,
    'epoch',
    [
      { name: 'train loss', values: r.history.map((e) => e.trainLoss), color: '#1f77b4' },
      { name: 'validation loss (BCE)', values: r.history.map((e) => e.valLoss), color: '#ff7f0e' },
      { name: 'validation macro-F1', values: r.history.map((e) => e.valMacroF1), color: '#2ca02c', right: true },
    ],
    { x: r.keptEpoch, label: `kept: epoch ${r.keptEpoch}` },
  );
  const perLabel = groupedBars(
    'Per-label F1 on the test split',
    r.labels,
    [
      { name: 'challenger', values: r.labels.map((l) => r.test.per_label[l]?.f1 ?? NaN), color: '#2ca02c' },
      ...(r.champion ? [{ name: `champion ${r.champion.version}`, values: r.labels.map((l) => r.champion!.test.per_label[l]?.f1 ?? NaN), color: '#999999' }] : []),
    ],
  );
  const files = {
    'report.json': JSON.stringify(r, null, 2) + '\n',
    'report.md': renderMarkdown(r),
    'loss-f1.svg': lossF1,
    'per-label-f1.svg': perLabel,
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return Object.keys(files).map((f) => join(dir, f));
}
