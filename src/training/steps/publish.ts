/**
 * Step: publish. The manifest gains the numbers the bundle was judged by, the
 * report is written, a promoted run is copied to --promote-to, and only then
 * are the new labels consumed and the checkpoint spent: a run that fails
 * before this point re-reads the same labels and resumes next time.
 */
import type { Fusion } from './fuse.ts';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathExists } from '../../common/fs.ts';
import type { ParityResult } from '../../model/build/export-parity.ts';
import { writeBundleFiles } from '../../model/build/write-bundle.ts';
import { MANIFEST_FILE, type LoadedBundle } from '../../model/manifest.ts';
import { loadBundle } from '../../model/runtime/load-bundle.ts';
import { removeCheckpoint } from '../checkpoint.ts';
import type { DataReport } from '../data.ts';
import type { ChampionDecision } from '../evaluate.ts';
import type { LabelSource } from '../label-source.ts';
import { writeRunReport, type RunReport } from '../report.ts';
import { BUNDLE_DIR, REPORT_DIR, carryRunData, promoteRun } from '../run-dir.ts';
import type { TrainerResult } from '../trainer.ts';
import { withJudgement, type TrainedBundleSpec } from './bundle-spec.ts';
import type { BaselineSummary } from './baseline.ts';
import type { Calibration } from './calibrate.ts';
import type { Verdict } from './decide.ts';
import type { ExportedRun } from './export.ts';
import type { InitialModel } from './initialise.ts';
import type { SplitPlan } from './split.ts';

export interface PublishInput {
  readonly runDir: string;
  readonly bundleDir: string;
  readonly checkpointDir: string;
  readonly spec: TrainedBundleSpec;
  readonly exported: ExportedRun;
  readonly verdict: Verdict;
  readonly report: Omit<ReportParts, 'bundle' | 'finished' | 'verdict' | 'firstBatch' | 'parity'>;
  /** Committed once everything is written. */
  readonly sources: readonly LabelSource[];
  readonly promoteTo?: string;
}

export interface PublishedRun {
  readonly decision: ChampionDecision;
  readonly bundleDir: string;
  readonly reportDir: string;
  readonly report: RunReport;
}

export interface ReportParts {
  readonly started: Date;
  readonly finished: Date;
  readonly command: string;
  readonly backend: string;
  readonly initial: InitialModel;
  readonly labels: readonly string[];
  readonly seed: number;
  readonly plan: SplitPlan;
  readonly data: DataReport;
  readonly trained: TrainerResult;
  readonly calibration: Calibration;
  readonly firstBatch: RunReport['firstBatch'];
  readonly baseline: BaselineSummary;
  /** Late fusion's weights, when the recipe fused (steps/fuse.ts). */
  readonly fusion?: Fusion;
  readonly parity: ParityResult;
  readonly verdict: Verdict;
  /** The base run's bundle directory and bundle, when there is a champion. */
  readonly champion?: { readonly dir: string; readonly bundle: LoadedBundle };
  readonly bundle: RunReport['bundle'];
}

export function assembleReport(p: ReportParts): RunReport {
  const { initial, trained, plan, labels, verdict } = p;
  return {
    startedAt: p.started.toISOString(),
    finishedAt: p.finished.toISOString(),
    wallSeconds: (p.finished.getTime() - p.started.getTime()) / 1000,
    command: p.command,
    backend: p.backend,
    recipe: initial.recipe,
    init: { kind: initial.kind, from: initial.initFrom, frozenLayers: initial.frozenLayers },
    architecture: { ...initial.config },
    labels,
    split: { seed: p.seed, train: plan.trainRows.length, validation: plan.valRows.length, test: plan.testRows.length, pinnedTest: plan.pinnedTest },
    data: p.data,
    history: trained.history,
    keptEpoch: trained.keptEpoch,
    stoppedEarly: trained.stoppedEarly,
    ...(trained.resumedFromEpoch === undefined ? {} : { resumedFromEpoch: trained.resumedFromEpoch }),
    thresholds: Object.fromEntries(labels.map((l, j) => [l, p.calibration.thresholds[j]])),
    tagCount: p.calibration.tagCount,
    ...(trained.posWeight ? { posWeight: Object.fromEntries(labels.map((l, j) => [l, trained.posWeight![j]])) } : {}),
    firstBatch: p.firstBatch,
    parity: p.parity,
    throughput: { samplesPerSecond: trained.samplesPerSecond, trainSeconds: trained.trainSeconds, steps: trained.steps },
    validation: p.calibration.metrics,
    test: verdict.challenger.metrics,
    ...(verdict.champion && p.champion
      ? { champion: { bundle: p.champion.dir, version: p.champion.bundle.manifest.version, test: verdict.champion.metrics, missingLabels: verdict.champion.missingLabels } }
      : {}),
    decision: verdict.decision,
    baseline: p.baseline,
    ...(p.fusion ? { fusion: { bertWeight: p.fusion.bertWeight, bertScale: p.fusion.bertScale, validation: p.fusion.scores } } : {}),
    bundle: p.bundle,
  };
}

/** `target` does not exist yet or is empty, or its bundle is the champion (itself, or a promoted copy: the same model and version). */
async function holdsBundle(target: string, champion: LoadedBundle): Promise<boolean> {
  if (!(await pathExists(target)) || (await readdir(target)).length === 0) return true;
  const held = await readFile(join(target, BUNDLE_DIR, MANIFEST_FILE), 'utf8').then((t) => JSON.parse(t) as { modelId?: unknown; version?: unknown }, () => undefined);
  return held?.modelId === champion.manifest.modelId && held?.version === champion.manifest.version;
}

export async function publishRun(input: PublishInput): Promise<PublishedRun> {
  const { exported, verdict } = input;
  const judged = withJudgement(input.spec, {
    version: exported.bundle.manifest.version,
    test: verdict.challenger.metrics,
    validationMacroF1: input.report.calibration.metrics.macro_f1,
    parityMaxAbsDiff: exported.parity.maxAbsDiff,
    decision: verdict.decision,
  });
  // The graph bytes parity was checked on, not a rebuild.
  await writeBundleFiles(input.bundleDir, judged, exported.bundle.modelBytes);
  const final = await loadBundle(input.bundleDir);
  const target = input.promoteTo ? resolve(input.promoteTo) : undefined;
  const promotedTo = verdict.decision.decision === 'promoted' ? target : undefined;
  // Kept: the champion stays, but the rows this run consumed (a Kafka label topic commits below)
  // must reach the folder the next run's --base reads, or they are never trained on again.
  const champion = input.report.champion;
  // Only where the champion lives (the CronJob's --base and --promote-to are one folder) or nothing
  // does yet: a --promote-to serving another model must not get the base's bundle.
  const dataCarriedTo = !promotedTo && champion && target && (await holdsBundle(target, champion.bundle)) ? target : undefined;
  const report = assembleReport({
    ...input.report,
    finished: new Date(),
    verdict,
    firstBatch: exported.firstBatch,
    parity: exported.parity,
    bundle: { dir: input.bundleDir, version: final.manifest.version, ...(promotedTo ? { promotedTo } : {}), ...(dataCarriedTo ? { dataCarriedTo } : {}) },
  });
  const reportDir = join(input.runDir, REPORT_DIR);
  await writeRunReport(reportDir, report);
  // The report goes first so the promoted copy carries it.
  if (promotedTo) await promoteRun(input.runDir, promotedTo);
  if (dataCarriedTo && champion) await carryRunData(input.runDir, dataCarriedTo, champion.dir);
  // Only now is the run a success: new labels are consumed, the checkpoint is spent.
  for (const s of input.sources) await s.commit();
  await removeCheckpoint(input.checkpointDir);
  return { decision: verdict.decision, bundleDir: input.bundleDir, reportDir, report };
}
