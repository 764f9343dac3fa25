/**
 * The retrain job end to end, as its steps: load data (previous set + new
 * labels), validate, split, initialise, encode, train, calibrate thresholds,
 * export and check engine ↔ onnxruntime parity, decide champion or challenger
 * on the pinned test split, publish. `livetag train` is a thin shell around
 * this; each step lives in ./steps/ with its own typed input and output.
 * The training engine (onnxruntime by default, or TensorFlow.js) is chosen
 * by `backend` and created once the rows are encoded.
 */
import { assertReplaceable } from '../common/atomic-write.ts';
import { join, resolve } from 'node:path';
import { LivetagError } from '../common/errors.ts';
import { DEFAULT_NGRAM, type NgramSpec } from '../model/ngram-hash.ts';
import type { DataReport } from './data.ts';
import type { LabelSource } from './label-source.ts';
import type { RecipeOverrides } from './recipe.ts';
import type { RunReport } from './report.ts';
import { BUNDLE_DIR, CHECKPOINT_DIR, REJECTED_FILE, RUN_MARKERS } from './run-dir.ts';
import type { ChampionDecision } from './evaluate.ts';
import type { TrainingEngine } from './engine.ts';
import { backendNameOf, checkEngineChoice, createEngine, type DeviceChoice, type EngineChoice } from './engines.ts';
import { engineOptionsFor } from './trainer.ts';
import { describeBundle } from './steps/bundle-spec.ts';
import { calibrateThresholds } from './steps/calibrate.ts';
import { tagCountFor } from './validation-score.ts';
import type { TagCount } from '../model/runtime/select-tags.ts';
import { fitBaseline, summarizeBaseline, type BaselineResult } from './steps/baseline.ts';
import { decideChampion } from './steps/decide.ts';
import { encodeRows } from './steps/encode.ts';
import { exportAndCheck } from './steps/export.ts';
import { fuseLate, withoutBranch } from './steps/fuse.ts';
import { initialiseModel, type ArchOverrides } from './steps/initialise.ts';
import { labelSources, loadData, type LoadedData } from './steps/load-data.ts';
import { publishRun } from './steps/publish.ts';
import { splitData } from './steps/split.ts';
import { trainModel } from './steps/train.ts';
import type { PreparedRun } from './steps/prepared-run.ts';
import { validateData } from './steps/validate.ts';

export type { ArchOverrides } from './steps/initialise.ts';

export interface TrainJobOptions {
  readonly data: readonly string[];
  /** Extra sources (a Kafka labels topic); committed only after a successful run. */
  readonly sources?: readonly LabelSource[];
  readonly base?: string;
  /** 'scratch' (default), a bundle directory, or a Hugging Face checkpoint directory. */
  readonly init?: string;
  readonly recipe: string;
  readonly out: string;
  readonly labels?: readonly string[];
  readonly addLabels?: boolean;
  /** tokenizer.json, or a directory with tokenizer.json or vocab.txt; scratch only. */
  readonly tokenizer?: string;
  readonly maxChars?: number;
  readonly maxLength?: number;
  readonly seed?: number;
  readonly ratios?: readonly [number, number, number];
  readonly recipeOverrides?: RecipeOverrides;
  readonly arch?: ArchOverrides;
  /** The wide n-gram branch: a shape, null for none; default: on for onnxruntime, off for the tfjs backends (which cannot train it). */
  readonly ngram?: NgramSpec | null;
  /**
   * 'auto': the baseline step fits the linear model on the token ids and on
   * the text and the run keeps the source with the lower validation log loss
   * (the CLI's default). Unset: the spec's source. A model that keeps its own
   * branch keeps its source.
   */
  readonly ngramSource?: 'auto';
  /** Start the wide branch from the linear baseline's weights (default true). */
  readonly ngramWarmStart?: boolean;
  /** Keep the wide branch at the linear fit and train BERT on what it misses (default false: both train). */
  readonly ngramFrozen?: boolean;
  /** Train only the top k encoder layers (+ pooler and head); default all. */
  readonly trainLayers?: number;
  readonly promoteMetric?: string;
  readonly promoteMargin?: number;
  readonly promoteTo?: string;
  /** 'onnxruntime' (default; 'auto' is its alias), or a TensorFlow.js backend: 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'. */
  readonly backend?: EngineChoice;
  /** onnxruntime only: 'auto' (default) = CUDA when its execution provider loads, else CPU with the reason logged. */
  readonly device?: DeviceChoice;
  readonly resume?: boolean;
  readonly quiet?: boolean;
  readonly modelId?: string;
  readonly parityTolerance?: number;
  readonly paritySample?: number;
  readonly threads?: number;
  readonly command?: string;
  readonly log?: (line: string) => void;
}

export interface TrainJobResult {
  readonly decision: ChampionDecision;
  readonly bundleDir: string;
  readonly reportDir: string;
  readonly report: RunReport;
}

/** Settings every step shares, resolved once from the options. */
interface Job {
  readonly opts: TrainJobOptions;
  readonly log: (line: string) => void;
  readonly started: Date;
  readonly engineChoice: EngineChoice;
  readonly sources: readonly LabelSource[];
  readonly seed: number;
  readonly ratios: readonly [number, number, number];
  readonly runDir: string;
  readonly bundleDir: string;
  readonly checkpointDir: string;
}

/** onnxruntime trains the wide branch by default (a bundle keeps the one it has); the tfjs backends cannot train it. */
function defaultNgram(choice: EngineChoice, loaded: LoadedData): NgramSpec | null | undefined {
  if (backendNameOf(choice) !== 'onnxruntime') return null;
  return loaded.init.kind === 'bundle' && loaded.init.bundle.manifest.architecture.ngram ? undefined : DEFAULT_NGRAM;
}

/** Tensors kept as given although their layer trains: the engine skips them and the resume fingerprint names them. */
function frozenTensorsOf(opts: TrainJobOptions, initial: PreparedRun['initial']): string[] {
  return opts.ngramFrozen && initial.config.ngram ? ['ngram.weight'] : [];
}

export async function runTrainJob(opts: TrainJobOptions): Promise<TrainJobResult> {
  const started = new Date();
  const log = opts.log ?? ((line: string) => process.stderr.write(`livetag train: ${line}\n`));
  // A bad --backend/--device fails before any data is read.
  const engineChoice = checkEngineChoice(opts.backend ?? 'onnxruntime', opts.device);
  // Refused now, not after the training it would end: promotion replaces the folder whole.
  if (opts.promoteTo) await assertReplaceable(resolve(opts.promoteTo), RUN_MARKERS);
  const runDir = resolve(opts.out);
  const sources = labelSources(opts.data, opts.sources);
  const job: Job = {
    opts,
    log,
    started,
    engineChoice,
    sources,
    runDir,
    seed: opts.seed ?? 13,
    ratios: opts.ratios ?? [0.6, 0.2, 0.2],
    bundleDir: join(runDir, BUNDLE_DIR),
    checkpointDir: join(runDir, CHECKPOINT_DIR),
  };
  try {
    const loaded = await loadData({ sources, base: opts.base, init: opts.init, tokenizer: opts.tokenizer }, log);
    const data = await validateData(loaded, { labels: opts.labels, addLabels: opts.addLabels, maxChars: opts.maxChars, rejectedFile: join(runDir, REJECTED_FILE) }, log);
    const plan = await splitData({ rows: data.rows, labels: data.labels, ratios: job.ratios, seed: job.seed, previous: loaded.base?.splits }, runDir, log);
    // The branch this run asks for: undefined keeps the init model's own.
    const ngram = opts.ngram !== undefined ? opts.ngram : defaultNgram(engineChoice, loaded);
    const initial0 = await initialiseModel(
      {
        init: loaded.init,
        hf: data.hf,
        labels: data.labels,
        vocabTexts: () => [...plan.trainRows, ...plan.valRows].map((i) => data.rows[i].text),
        seed: job.seed,
        recipe: opts.recipe,
        recipeOverrides: opts.recipeOverrides,
        tokenizer: opts.tokenizer,
        arch: opts.arch,
        maxLength: opts.maxLength,
        trainLayers: opts.trainLayers,
        ngram,
      },
      log,
    );
    // Late fusion: BERT trains alone; the fit joins it after training (steps/fuse.ts).
    const late = initial0.recipe.fusion === 'late' && initial0.config.ngram !== undefined;
    if (late && (opts.ngramFrozen || opts.ngramWarmStart === false)) {
      throw new LivetagError('LT_CONFIG_INVALID', `${opts.ngramFrozen ? '--ngram-frozen' : '--ngram-cold'} shapes how the branch trains with BERT; under --fusion late it does not train (use --fusion joint)`, { retryable: false });
    }
    const encoded = await encodeRows({ model: initial0, rows: data.rows, labels: data.labels, report: data.report, threads: opts.threads, quiet: opts.quiet }, log);
    // The bounds the bundle ships, from the rows the model learns and is calibrated on; every step that decides uses these.
    const tagCount = tagCountFor(initial0.recipe, encoded.targets, [...plan.trainRows, ...plan.valRows]);
    // undefined: the model keeps its own branch, and so its source; otherwise the run may take the text instead.
    const chooseSource = opts.ngramSource === 'auto' && ngram !== undefined;
    const baseline = fitBaseline({ model: initial0, encoded, plan, labels: data.labels, tagCount, warmStart: opts.ngramWarmStart, chooseSource }, log);
    const fusionSpec = late ? baseline.initial.config.ngram : undefined;
    const initial = fusionSpec ? withoutBranch(baseline.initial) : baseline.initial;
    const frozen = frozenTensorsOf(opts, initial);
    const engine = await createEngine(
      engineChoice,
      engineOptionsFor(
        { ...initial, features: encoded.features, targets: encoded.targets, trainRows: plan.trainRows },
        {
          log,
          ...(opts.threads === undefined ? {} : { threads: opts.threads }),
          ...(opts.device ? { device: opts.device } : {}),
          ...(frozen.length > 0 ? { frozenTensors: new Set(frozen) } : {}),
          ...(initial.config.ngram && initial.recipe.ngramUpdate === 'lazy' ? { sparseTensors: new Set(['ngram.weight']) } : {}),
        },
      ),
    );
    try {
      return await trainAndPublish(job, loaded, data.report, { rows: data.rows, labels: data.labels, plan, initial, encoded, tagCount }, engine, baseline, fusionSpec);
    } finally {
      await engine.dispose();
    }
  } finally {
    for (const s of sources) await s.stop().catch(() => undefined);
  }
}

/** The steps that need the training engine: train, calibrate thresholds, export and check parity, decide promotion, publish. */
async function trainAndPublish(
  job: Job,
  loaded: LoadedData,
  dataReport: DataReport,
  run: PreparedRun & { readonly tagCount: TagCount },
  engine: TrainingEngine,
  baselineFit: BaselineResult,
  fusionSpec: NgramSpec | undefined,
): Promise<TrainJobResult> {
  const { opts, log, seed, runDir, bundleDir, checkpointDir } = job;
  const { rows, labels, plan, encoded, tagCount } = run;
  const trained = await trainModel({ ...run, engine, seed, checkpointDir, resume: opts.resume, quiet: opts.quiet, frozenTensors: frozenTensorsOf(opts, run.initial), threads: opts.threads }, log);
  const truth = plan.valRows.map((r) => encoded.targets[r]);
  const fusion = fusionSpec
    ? fuseLate({ config: run.initial.config, spec: fusionSpec, fit: baselineFit.fit, bertValLogits: trained.valLogits, valTruth: truth, labels }, log)
    : undefined;
  // What the bundle ships: the fused architecture under late fusion, else what trained.
  const initial = fusion ? { ...run.initial, config: fusion.config } : run.initial;
  const calibration = calibrateThresholds({ valLogits: fusion?.valLogits ?? trained.valLogits, truth, labels, recipe: initial.recipe, tagCount, keptEpoch: trained.keptEpoch }, log);
  const spec = describeBundle({
    ...run,
    initial,
    trained,
    calibration,
    runDir,
    seed,
    ratios: job.ratios,
    modelId: opts.modelId,
    sourceNames: job.sources.map((s) => s.name),
    baseDir: loaded.base?.bundleDir,
    parentVersion: loaded.baseBundle?.manifest.version ?? (loaded.init.kind === 'bundle' ? loaded.init.bundle.manifest.version : null),
    backendName: backendNameOf(job.engineChoice),
  });
  const exported = await exportAndCheck(
    { ...run, initial, engine, trained, spec, bundleDir, tolerance: opts.parityTolerance, paritySample: opts.paritySample, threads: opts.threads, ...(fusion ? { fusion } : {}) },
    log,
  );
  const champion = loaded.base && loaded.baseBundle ? { dir: loaded.base.bundleDir, bundle: loaded.baseBundle } : undefined;
  const verdict = await decideChampion({
    challenger: exported.bundle,
    champion: champion?.bundle,
    testRows: plan.testRows.map((i) => rows[i]),
    labels,
    metric: opts.promoteMetric,
    margin: opts.promoteMargin,
    threads: opts.threads,
  });
  const command = opts.command ?? 'livetag train';
  const baseline = summarizeBaseline(baselineFit, verdict.challenger.metrics);
  log(`test split: ${baseline.verdict}`);
  const report = { started: job.started, command, backend: engine.description, initial, labels, seed, plan, data: dataReport, trained, calibration, champion, baseline, ...(fusion ? { fusion } : {}) };
  return publishRun({ runDir, bundleDir, checkpointDir, spec, exported, verdict, sources: job.sources, promoteTo: opts.promoteTo, report });
}
