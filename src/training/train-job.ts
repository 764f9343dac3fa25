/**
 * The retrain job end to end: data in (previous set + new labels), split,
 * train in tfjs, export through the model core's ONNX writer, check tfjs and
 * onnxruntime agree, score on the pinned test split, decide champion or
 * challenger, write the report. `livetag train` is a thin shell around this.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathExists } from '../common/fs.ts';
import { join, resolve } from 'node:path';
import { smallBertConfig, parseBertConfig, type BertConfig } from '../model/bert-config.ts';
import { loadBundle, writeBundle, type LoadedBundle, type TrainingInfo } from '../model/bundle.ts';
import { readHfCheckpoint, type HfCheckpoint } from '../model/hf-import.ts';
import { buildBertOnnx, readBertWeights } from '../model/onnx-graph.ts';
import { createOrtRunner } from '../model/onnx-session.ts';
import { buildWordPieceTokenizerJson, createTextEncoder, vocabFromText } from '../model/tokenizer.ts';
import { createNormal, createRng, randomWeights, type WeightMap } from '../model/weights.ts';
import { LivetagError, isLivetagError } from '../common/errors.ts';
import { removeCheckpoint } from './checkpoint.ts';
import { formatDataReport, noteIssue, validateRecords, type RawRecord } from './data.ts';
import { decidePromotion, evaluateBundle, type BundleEvaluation, type ChampionDecision } from './evaluate.ts';
import { createFrozenFeatures, createIdFeatures, toEncodedBatch, tokenizeAll, type FeatureStore } from './features.ts';
import { collect, createFileLabelSource, type LabelSource } from './label-source.ts';
import { bceWithLogits } from './losses.ts';
import { toMatrix } from './metrics.ts';
import { createProgress } from './progress.ts';
import { resolveRecipe, type Recipe, type RecipeOverrides } from './recipe.ts';
import { writeRunReport, type RunReport } from './report.ts';
import { BUNDLE_DIR, CHECKPOINT_DIR, REPORT_DIR, promoteRun, resolveBaseRun, writeRunData, type BaseRun } from './run-dir.ts';
import { assignSplits, type SplitName } from './stratify.ts';
import { describeBackend, initTfBackend, type BackendChoice } from './tf-backend.ts';
import { createTfBert } from './tf-bert.ts';
import { predictLogits, train } from './trainer.ts';
import { buildCharVocab, charVocabTokenizerJson } from './vocab.ts';

export interface ArchOverrides {
  readonly hiddenSize?: number;
  readonly numLayers?: number;
  readonly numHeads?: number;
  readonly intermediateSize?: number;
}

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
  /** Train only the top k encoder layers (+ pooler and head); default all. */
  readonly trainLayers?: number;
  readonly promoteMetric?: string;
  readonly promoteMargin?: number;
  readonly promoteTo?: string;
  readonly backend?: BackendChoice;
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

type InitModel =
  | { readonly kind: 'scratch' }
  | { readonly kind: 'bundle'; readonly dir: string; readonly bundle: LoadedBundle }
  | { readonly kind: 'hf'; readonly dir: string };


async function resolveInit(init: string | undefined): Promise<InitModel> {
  if (!init || init === 'scratch') return { kind: 'scratch' };
  const dir = resolve(init);
  if (await pathExists(join(dir, 'manifest.json'))) return { kind: 'bundle', dir, bundle: await loadBundle(dir) };
  if (await pathExists(join(dir, BUNDLE_DIR, 'manifest.json'))) return { kind: 'bundle', dir: join(dir, BUNDLE_DIR), bundle: await loadBundle(join(dir, BUNDLE_DIR)) };
  if (await pathExists(join(dir, 'config.json'))) return { kind: 'hf', dir };
  throw new LivetagError('LT_USAGE', `--init ${init}: not "scratch", a bundle (manifest.json) or a Hugging Face checkpoint (config.json)`);
}

async function loadTokenizerFile(path: string): Promise<string> {
  const abs = resolve(path);
  if (await pathExists(join(abs, 'tokenizer.json'))) return readFile(join(abs, 'tokenizer.json'), 'utf8');
  if (await pathExists(join(abs, 'vocab.txt'))) return buildWordPieceTokenizerJson(vocabFromText(await readFile(join(abs, 'vocab.txt'), 'utf8')));
  if (await pathExists(abs)) return readFile(abs, 'utf8');
  throw new LivetagError('LT_TOKENIZER', `${path}: no tokenizer.json or vocab.txt`);
}

/** New labels (--add-labels) get fresh classifier rows; the rest of the head is kept. */
function extendHead(config: BertConfig, weights: WeightMap, oldLabels: readonly string[], labels: readonly string[], seed: number): { config: BertConfig; weights: WeightMap } {
  if (labels.length === oldLabels.length) return { config, weights };
  const h = config.hiddenSize;
  const normal = createNormal(createRng(seed + 7));
  const w = weights.get('classifier.weight')!;
  const b = weights.get('classifier.bias')!;
  const nw = new Float32Array(labels.length * h);
  const nb = new Float32Array(labels.length);
  nw.set(w.data);
  nb.set(b.data);
  for (let i = oldLabels.length * h; i < nw.length; i++) nw[i] = normal() * 0.02;
  const out: WeightMap = new Map(weights);
  out.set('classifier.weight', { shape: [labels.length, h], data: nw });
  out.set('classifier.bias', { shape: [labels.length], data: nb });
  return { config: parseBertConfig({ ...config, numLabels: labels.length }), weights: out };
}

function hashOf(value: unknown): string {
  const h = createHash('sha256');
  if (value instanceof Uint8Array) h.update(value);
  else h.update(typeof value === 'string' ? value : JSON.stringify(value));
  return h.digest('hex');
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function runTrainJob(opts: TrainJobOptions): Promise<TrainJobResult> {
  const started = new Date();
  const log = opts.log ?? ((line: string) => process.stderr.write(`livetag train: ${line}\n`));
  const seed = opts.seed ?? 13;
  const ratios = opts.ratios ?? [0.6, 0.2, 0.2];
  const out = resolve(opts.out);
  const bundleDir = join(out, BUNDLE_DIR);
  const checkpointDir = join(out, CHECKPOINT_DIR);
  const tolerance = opts.parityTolerance ?? 1e-4;

  const backend = await initTfBackend(opts.backend ?? 'auto');
  log(describeBackend(backend));

  // Data: the previous training set (beside the base bundle) plus new records.
  const base: BaseRun | undefined = opts.base ? await resolveBaseRun(opts.base) : undefined;
  const baseBundle = base ? await loadBundle(base.bundleDir) : undefined;
  const sources: LabelSource[] = [...(opts.data.length > 0 ? [createFileLabelSource(opts.data)] : []), ...(opts.sources ?? [])];
  const fresh: RawRecord[] = [];
  for (const s of sources) {
    await s.start();
    fresh.push(...(await collect(s)));
  }
  if (base) log(`base ${base.bundleDir}: ${base.previous.length} previous rows${base.splits ? ', pinned splits' : ' (no splits.json: nothing pinned)'}`);

  const init = await resolveInit(opts.init);
  if (opts.tokenizer && init.kind !== 'scratch') {
    throw new LivetagError('LT_USAGE', '--tokenizer applies to --init scratch only: an initial model brings its own tokenizer');
  }
  let hf: HfCheckpoint | undefined;
  let fixedLabels: readonly string[] | undefined =
    opts.labels ?? (init.kind === 'bundle' ? init.bundle.manifest.labels : baseBundle?.manifest.labels);
  if (init.kind === 'hf') {
    try {
      hf = await readHfCheckpoint(init.dir, fixedLabels ? { labels: fixedLabels } : {});
    } catch (err) {
      // A pretraining checkpoint (bert-base-chinese) has no head and no label names: take them from the data.
      if (!isLivetagError(err, 'LT_HF_IMPORT') || fixedLabels) throw err;
      const open = validateRecords(base?.previous ?? [], fresh, { ...(opts.maxChars ? { maxChars: opts.maxChars } : {}) });
      hf = await readHfCheckpoint(init.dir, { labels: open.labels });
    }
    fixedLabels = hf.labels;
  }
  const { rows, labels, report: dataReport } = validateRecords(base?.previous ?? [], fresh, {
    ...(fixedLabels ? { labels: fixedLabels } : {}),
    ...(opts.addLabels ? { addUnknownLabels: true } : {}),
    ...(opts.maxChars ? { maxChars: opts.maxChars } : {}),
  });
  log(formatDataReport(dataReport, 20));
  if (rows.length < 10) throw new LivetagError('LT_DATA', `only ${rows.length} usable rows; nothing to train on`);

  // Split: rows placed by the previous run stay where they were.
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const { split, pinned } = assignSplits(
    rows.map((r) => r.key),
    rows.map((r) => r.labels.map((l) => labelIndex.get(l)!)),
    { ratios, seed, ...(base?.splits ? { pinned: base.splits.assignments } : {}) },
  );
  const idx = (name: SplitName): number[] => split.flatMap((s, i) => (s === name ? [i] : []));
  const trainRows = idx('train');
  const valRows = idx('validation');
  const testRows = idx('test');
  const pinnedTest = base?.splits ? testRows.filter((i) => base.splits!.assignments[rows[i].key] === 'test').length : 0;
  log(`split (seed ${seed}): train ${trainRows.length}, validation ${valRows.length}, test ${testRows.length} (${pinned} rows kept where the previous run put them)`);
  const splits = { version: 1 as const, seed, ratios: [...ratios], assignments: Object.fromEntries(rows.map((r, i) => [r.key, split[i]])) };
  await writeRunData(out, rows, split, splits);

  // Model, tokenizer and starting weights.
  let config: BertConfig;
  let weights: WeightMap;
  let tokenizerJson: string;
  let maxLength: number;
  let initOnnx: Uint8Array | undefined;
  let initFrom: string;
  if (init.kind === 'bundle') {
    const m = init.bundle.manifest;
    config = parseBertConfig(m.architecture);
    weights = readBertWeights(config, init.bundle.modelBytes);
    tokenizerJson = init.bundle.tokenizerJson;
    maxLength = opts.maxLength ?? m.maxSequenceLength;
    initFrom = `bundle ${init.dir} (version ${m.version})`;
    ({ config, weights } = extendHead(config, weights, m.labels, labels, seed));
    if (labels.length === m.labels.length) initOnnx = init.bundle.modelBytes;
  } else if (init.kind === 'hf') {
    config = hf!.config;
    weights = hf!.weights;
    tokenizerJson = hf!.tokenizerJson;
    maxLength = opts.maxLength ?? hf!.maxLength;
    initFrom = `Hugging Face checkpoint ${init.dir} (head ${hf!.head})`;
    ({ config, weights } = extendHead(config, weights, hf!.labels, labels, seed));
    if (labels.length === hf!.labels.length) initOnnx = buildBertOnnx(config, weights);
  } else {
    tokenizerJson = opts.tokenizer
      ? await loadTokenizerFile(opts.tokenizer)
      : charVocabTokenizerJson(buildCharVocab([...trainRows, ...valRows].map((i) => rows[i].text)));
    const vocabSize = createTextEncoder(tokenizerJson, 8).vocabSize;
    const arch = Object.fromEntries(Object.entries(opts.arch ?? {}).filter(([, v]) => v !== undefined));
    config = parseBertConfig({ ...smallBertConfig(vocabSize, labels.length), ...arch });
    if (opts.arch?.hiddenSize && !opts.arch.intermediateSize) config = parseBertConfig({ ...config, intermediateSize: 4 * config.hiddenSize });
    weights = randomWeights(config, seed);
    maxLength = Math.min(opts.maxLength ?? 128, config.maxPositions);
    initFrom = `scratch (seed ${seed}, ${opts.tokenizer ? `tokenizer ${opts.tokenizer}` : 'character vocabulary built from train+validation'})`;
    initOnnx = buildBertOnnx(config, weights);
  }
  maxLength = Math.min(maxLength, config.maxPositions);
  const trainLayers = opts.trainLayers ?? config.numLayers;
  if (trainLayers < 0 || trainLayers > config.numLayers) throw new LivetagError('LT_USAGE', `--train-layers ${trainLayers}: the model has ${config.numLayers} layers`);
  const frozenLayers = config.numLayers - trainLayers;
  const recipe: Recipe = resolveRecipe(opts.recipe, init.kind === 'scratch' ? 'scratch' : 'pretrained', frozenLayers, opts.recipeOverrides);
  log(`init: ${initFrom}; ${config.numLayers} layers × hidden ${config.hiddenSize}, vocab ${config.vocabSize}, ${labels.length} labels; training the top ${trainLayers} layers`);

  // Inputs: token ids, and for a frozen prefix its cached output.
  const encoder = createTextEncoder(tokenizerJson, maxLength);
  const ids = await tokenizeAll(encoder, rows.map((r) => r.text));
  ids.forEach((r, i) => {
    if (r.length >= maxLength) {
      const full = rows[i].text.length + 2;
      if (full > maxLength) noteIssue(dataReport, { kind: 'truncated', source: 'tokenizer', detail: `"${rows[i].text.slice(0, 30)}…" truncated to ${maxLength} tokens` });
    }
  });
  let features: FeatureStore;
  if (frozenLayers > 0) {
    log(`computing the frozen lower ${frozenLayers} layers once per text with onnxruntime`);
    features = await createFrozenFeatures(config, weights, frozenLayers, ids, {
      progress: createProgress('frozen layers', ids.length, undefined, opts.quiet),
      ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    });
  } else features = createIdFeatures(ids);
  const targets = toMatrix(rows.map((r) => r.labels), labels);

  const fingerprint = hashOf({
    recipe,
    config,
    frozenLayers,
    seed,
    labels,
    maxLength,
    tokenizer: hashOf(tokenizerJson),
    init: initOnnx ? hashOf(initOnnx) : initFrom,
    train: trainRows.map((i) => `${rows[i].key}:${rows[i].labels.join(',')}`),
    val: valRows.map((i) => rows[i].key),
  });
  if (opts.resume === false) await removeCheckpoint(checkpointDir);

  const model = createTfBert(config, weights, frozenLayers);
  let result;
  try {
    result = await train({
      model,
      features,
      labels,
      targets,
      trainRows,
      valRows,
      recipe,
      seed,
      checkpointDir,
      fingerprint,
      log,
      ...(opts.quiet ? { quiet: true } : {}),
    });

    // The untrained model through onnxruntime must give the same first-batch loss as tfjs did.
    let firstBatch: RunReport['firstBatch'] = { tfjsLoss: result.firstBatch.loss, rows: result.firstBatch.rows.length, ids: result.firstBatch.rows.map((i) => rows[i].id) };
    if (initOnnx && result.resumedFromEpoch === undefined) {
      const runner = await createOrtRunner(initOnnx, opts.threads === undefined ? {} : { threads: opts.threads });
      try {
        const fb = result.firstBatch.rows;
        const logits = await runner.run(toEncodedBatch(fb.map((r) => ids[r])));
        const flat = new Float32Array(fb.length * labels.length);
        fb.forEach((r, b) => flat.set(targets[r], b * labels.length));
        const onnxLoss = bceWithLogits(logits, flat);
        firstBatch = { ...firstBatch, onnxLoss, absDiff: Math.abs(onnxLoss - result.firstBatch.loss) };
        log(`first-batch loss: tfjs ${result.firstBatch.loss.toFixed(6)}, initial model through onnxruntime ${onnxLoss.toFixed(6)}`);
      } finally {
        await runner.release();
      }
    }

    // Export through the model core's writer.
    const trained = model.exportWeights();
    const thresholds = result.thresholds.map((t) => t.threshold);
    // Held-out rows first; training rows only when the splits are too small to fill the sample.
    const sampleRows = [...valRows, ...testRows, ...trainRows].slice(0, opts.paritySample ?? 64);
    const tfLogits = predictLogits(model, features, sampleRows);
    const evaluatedOn = `test split: ${testRows.length} rows (${pinnedTest} pinned from the previous run), keys in ${join(out, 'splits.json')}`;
    const training: TrainingInfo = {
      recipe: recipe.name,
      trainedOn: `${trainRows.length} train rows (+${valRows.length} validation for early stopping and thresholds) of ${rows.length} accepted: ${sources.map((s) => s.name).join(' + ') || 'no new data'}${base ? ` + previous set of ${base.bundleDir}` : ''}; data sha256 ${hashOf(rows.map((r) => r.key + r.labels.join(','))).slice(0, 16)}`,
      evaluatedOn,
      details: {
        recipe,
        init: initFrom,
        frozenLayers,
        seed,
        splitRatios: [...ratios],
        keptEpoch: result.keptEpoch,
        epochsRun: result.history.length,
        thresholdsHow: result.thresholds.map((t) => t.how),
        backend: backend.name,
      },
    };
    const spec = {
      modelId: opts.modelId ?? 'livetag',
      parentVersion: baseBundle?.manifest.version ?? (init.kind === 'bundle' ? init.bundle.manifest.version : null),
      labels,
      thresholds,
      maxSequenceLength: maxLength,
      architecture: config,
      tokenizerJson,
      head: 'trained' as const,
      source: `livetag train --recipe ${recipe.name}`,
      training,
    };
    await writeBundle(bundleDir, spec, trained);

    // Accept the bundle only if onnxruntime computes what tfjs trained.
    const exported = await loadBundle(bundleDir);
    const runner = await createOrtRunner(exported.modelBytes, opts.threads === undefined ? {} : { threads: opts.threads });
    const ortLogits = new Float32Array(sampleRows.length * labels.length);
    try {
      for (let i = 0; i < sampleRows.length; i += 32) {
        const chunk = sampleRows.slice(i, i + 32);
        ortLogits.set(await runner.run(toEncodedBatch(chunk.map((r) => ids[r]))), i * labels.length);
      }
    } finally {
      await runner.release();
    }
    const parityDiff = maxAbsDiff(tfLogits, ortLogits);
    log(`parity tfjs ↔ onnxruntime on ${sampleRows.length} rows: max |Δlogit| ${parityDiff.toExponential(3)} (tolerance ${tolerance})`);
    if (!(parityDiff <= tolerance)) {
      throw new LivetagError('LT_PARITY', `exported model disagrees with tfjs: max |Δlogit| ${parityDiff} > ${tolerance}; bundle ${bundleDir} must not be served`);
    }

    // Both models on the same pinned test rows.
    const testData = testRows.map((i) => rows[i]);
    const evalOpts = { labels, ...(opts.threads === undefined ? {} : { threads: opts.threads }) };
    const challenger = await evaluateBundle(exported, testData, evalOpts);
    let champion: BundleEvaluation | undefined;
    if (baseBundle) champion = await evaluateBundle(baseBundle, testData, evalOpts);
    const decision = decidePromotion(opts.promoteMetric ?? 'macro_f1', challenger.metrics, champion?.metrics, opts.promoteMargin ?? 0.01);

    // The manifest states the numbers it was judged by.
    await writeBundle(
      bundleDir,
      {
        ...spec,
        version: exported.manifest.version,
        training: {
          ...training,
          metrics: {
            subset_accuracy: challenger.metrics.subset_accuracy,
            micro_f1: challenger.metrics.micro_f1,
            macro_f1: challenger.metrics.macro_f1,
            hamming_loss: challenger.metrics.hamming_loss,
            validation_macro_f1: result.valMetrics.macro_f1,
            parity_max_abs_diff: parityDiff,
          },
          perLabel: challenger.metrics.per_label,
          details: { ...training.details, decision },
        },
      },
      trained,
    );
    const finalBundle = await loadBundle(bundleDir);

    const promotedTo = decision.decision === 'promoted' && opts.promoteTo ? resolve(opts.promoteTo) : undefined;
    const finished = new Date();
    const report: RunReport = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      wallSeconds: (finished.getTime() - started.getTime()) / 1000,
      command: opts.command ?? 'livetag train',
      backend: describeBackend(backend),
      recipe,
      init: { kind: init.kind, from: initFrom, frozenLayers },
      architecture: { ...config },
      labels,
      split: { seed, train: trainRows.length, validation: valRows.length, test: testRows.length, pinnedTest },
      data: dataReport,
      history: result.history,
      keptEpoch: result.keptEpoch,
      stoppedEarly: result.stoppedEarly,
      ...(result.resumedFromEpoch === undefined ? {} : { resumedFromEpoch: result.resumedFromEpoch }),
      thresholds: Object.fromEntries(labels.map((l, j) => [l, thresholds[j]])),
      ...(result.posWeight ? { posWeight: Object.fromEntries(labels.map((l, j) => [l, result!.posWeight![j]])) } : {}),
      firstBatch,
      parity: { rows: sampleRows.length, maxAbsDiff: parityDiff, tolerance },
      throughput: { samplesPerSecond: result.samplesPerSecond, trainSeconds: result.trainSeconds, steps: result.steps },
      validation: result.valMetrics,
      test: challenger.metrics,
      ...(champion && baseBundle
        ? { champion: { bundle: base!.bundleDir, version: baseBundle.manifest.version, test: champion.metrics, missingLabels: champion.missingLabels } }
        : {}),
      decision,
      bundle: { dir: bundleDir, version: finalBundle.manifest.version, ...(promotedTo ? { promotedTo } : {}) },
    };
    const reportDir = join(out, REPORT_DIR);
    await writeRunReport(reportDir, report);
    // The report goes first so the promoted copy carries it.
    if (promotedTo) await promoteRun(out, promotedTo);
    // Only now is the run a success: new labels are consumed, the checkpoint is spent.
    for (const s of sources) await s.commit();
    await removeCheckpoint(checkpointDir);
    return { decision, bundleDir, reportDir, report };
  } finally {
    model.dispose();
    for (const s of sources) await s.stop().catch(() => undefined);
  }
}

