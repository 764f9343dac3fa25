/**
 * `livetag pretrain`: masked-language-model training of BERT's encoder on
 * unlabeled text, on the onnxruntime engine. Each epoch draws new masks from
 * its own seeded stream and ends with a checkpoint, so a killed run resumes
 * at the next epoch with the masks and batches it would have had. The result
 * is an encoder bundle (manifest head "encoder") that `livetag train --init`
 * gives a new head, its MLM head beside it, and a report.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LivetagError } from '../../common/errors.ts';
import { createRng } from '../../common/rng.ts';
import { createTextEncoder } from '../../model/tokenizer.ts';
import { mlmWeightSpecs } from '../../model/build/mlm-graph.ts';
import { learningRateAt, type Schedule } from '../optimizer.ts';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint, type StoredTensor } from '../checkpoint.ts';
import { shuffledBatches, tokenizeAll } from '../features.ts';
import { createProgress } from '../progress.ts';
import { readCorpus } from './corpus.ts';
import { epochSeed, maskRow, type MaskingOptions } from './masking.ts';
import { createMlmEngine, type MlmEngine } from './mlm-engine.ts';
import { initialisePretraining, maskingFor } from './pretrain-init.ts';
import type { PretrainOptions } from './pretrain-options.ts';
import { writePretrainOutputs, type EpochRecord } from './pretrain-output.ts';

export type { PretrainOptions } from './pretrain-options.ts';

export interface PretrainResult {
  readonly bundleDir: string;
  readonly epochs: readonly EpochRecord[];
  readonly seconds: number;
}

interface LoopState {
  readonly epochsDone: number;
  readonly history: EpochRecord[];
  readonly optimizerStep: number;
  /** What the run trains on and how: a resume under any other would go on silently wrong. */
  readonly fingerprint: string;
}

/**
 * The tokenizer, the token rows (so the corpus and its order) and every option that shapes the
 * steps. A topic read again after a kill usually differs (new comments), and a rebuilt character
 * vocabulary maps the same ids to other characters: both must refuse, not resume.
 */
export function runFingerprint(tokenizerJson: string, rows: readonly Int32Array[], o: PretrainOptions): string {
  const h = createHash('sha256').update(tokenizerJson);
  for (const r of rows) h.update(Buffer.from(r.buffer, r.byteOffset, r.byteLength)).update('\0');
  const shape = { seed: o.seed, batchSize: o.batchSize, maskProb: o.maskProb, spanMasking: o.spanMasking, epochs: o.epochs, maxSteps: o.maxSteps ?? null, lr: o.lr, weightDecay: o.weightDecay, warmupRatio: o.warmupRatio, dropout: o.dropout };
  return h.update(JSON.stringify(shape)).digest('hex');
}

const CHECKPOINT_DIR = 'checkpoint';

async function saveLoop(dir: string, engine: MlmEngine, state: LoopState): Promise<void> {
  const opt = engine.optimizerState();
  const tensors = new Map<string, StoredTensor>();
  for (const [n, t] of engine.snapshot()) tensors.set(`w:${n}`, t);
  for (const [n, t] of opt.m) tensors.set(`m:${n}`, t);
  for (const [n, t] of opt.v) tensors.set(`v:${n}`, t);
  await saveCheckpoint(dir, { ...state, optimizerStep: opt.step }, tensors);
}

async function restoreLoop(dir: string, engine: MlmEngine, fingerprint: string, log: (l: string) => void): Promise<LoopState | undefined> {
  const saved = await loadCheckpoint<LoopState>(dir);
  if (!saved) return undefined;
  if (saved.state.fingerprint !== fingerprint) {
    throw new LivetagError(
      'LT_CHECKPOINT',
      `${dir} was saved by a run on another corpus, tokenizer or options (a topic read again holds other comments): it cannot go on from there. Give the same --data and options, or run without --resume (the checkpoint is replaced)`,
    );
  }
  const pick = (prefix: string): Map<string, StoredTensor> =>
    new Map([...saved.tensors].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
  engine.restore(pick('w:'));
  engine.restoreOptimizer({ step: saved.state.optimizerStep, m: pick('m:'), v: pick('v:') });
  log(`resume: ${dir} after epoch ${saved.state.epochsDone}`);
  return saved.state;
}

/** What every epoch of one run shares: the corpus, the engine and the step plan. */
interface PretrainRun {
  readonly o: PretrainOptions;
  readonly rows: readonly Int32Array[];
  /** Each row's real (maskable) tokens. */
  readonly realTokens: readonly number[];
  readonly masking: MaskingOptions;
  readonly engine: MlmEngine;
  /** Epochs that run: o.epochs, or fewer when --max-steps ends the run inside one. */
  readonly epochs: number;
  readonly schedule: Schedule;
}

/** One epoch's batches, or as many of them as the step budget (schedule.totalSteps) leaves. */
async function runEpoch(run: PretrainRun, epoch: number, step0: number): Promise<EpochRecord & { readonly maskable: number }> {
  const { o, rows, realTokens, masking, engine, schedule } = run;
  const started = Date.now();
  const rng = createRng(epochSeed(o.seed, epoch));
  // The whole epoch's shuffle is drawn even when it is cut short, so a step budget changes nothing before it.
  const batches = shuffledBatches([...rows.keys()], rows.map((r) => r.length), o.batchSize, epochSeed(o.seed + 1, epoch)).slice(0, Math.max(0, schedule.totalSteps - step0));
  const progress = createProgress(`pretrain epoch ${epoch + 1}/${run.epochs}`, batches.length, undefined, o.quiet);
  let lossSum = 0;
  let masked = 0;
  let correct = 0;
  let maskable = 0;
  let step = step0;
  for (const [b, batch] of batches.entries()) {
    for (const i of batch) maskable += realTokens[i];
    const r = await engine.step(batch.map((i) => maskRow(rows[i], masking, rng)), learningRateAt(step++, o.lr, schedule));
    // The engine skips the update; an epoch loss of NaN would fail only at the manifest, after every epoch.
    if (!Number.isFinite(r.loss)) throw new LivetagError('LT_TRAINING', `MLM loss became ${r.loss} at epoch ${epoch + 1}, step ${step}; lower --lr (${o.lr})`);
    lossSum += r.loss * r.masked;
    masked += r.masked;
    correct += r.correct;
    progress.tick(b + 1, `MLM loss ${(lossSum / masked).toFixed(3)} masked acc ${(correct / masked).toFixed(3)}`);
  }
  const rec = { epoch: epoch + 1, loss: lossSum / masked, accuracy: correct / masked, masked, maskable, steps: batches.length, seconds: (Date.now() - started) / 1000 };
  progress.finish(`MLM loss ${rec.loss.toFixed(3)} masked acc ${rec.accuracy.toFixed(3)}`);
  return rec;
}

export async function runPretrainJob(o: PretrainOptions, log: (line: string) => void): Promise<PretrainResult> {
  const started = Date.now();
  const corpus = await readCorpus(o.data, o.topic, log);
  const start = await initialisePretraining({ init: o.init, texts: corpus.texts, seed: o.seed, maxLength: o.maxLength, arch: o.arch }, log);
  const encoder = createTextEncoder(start.tokenizerJson, start.maxLength);
  const masking = maskingFor(start.tokenizerJson, start.config, o.maskProb, o.spanMasking);
  // A row needs a real token to mask: [CLS] [SEP] alone teaches nothing.
  const rows = (await tokenizeAll(encoder, corpus.texts)).filter((r) => r.some((id) => !masking.specialIds.has(id)));
  const tokens = rows.reduce((a, r) => a + r.length, 0);
  const perEpoch = Math.ceil(rows.length / o.batchSize);
  const totalSteps = Math.min(perEpoch * o.epochs, o.maxSteps ?? Infinity);
  const epochs = Math.ceil(totalSteps / perEpoch);
  const budget = totalSteps < perEpoch * o.epochs ? ` (--max-steps ${o.maxSteps}: ${epochs} of ${o.epochs} epochs, ${totalSteps} steps)` : `, ${totalSteps} steps`;
  log(`pretrain: ${rows.length} rows, ${tokens} tokens; mask ${o.maskProb}${o.spanMasking ? ' (spans)' : ''}; ${o.epochs} epochs × batch ${o.batchSize}${budget}, lr ${o.lr}`);
  const mlmWeights = new Map(mlmWeightSpecs(start.config).map((s) => [s.name, start.weights.get(s.name)!]));
  const engine = await createMlmEngine({ config: start.config, weights: mlmWeights, optimizer: { lr: o.lr, weightDecay: o.weightDecay, clipNorm: 1 }, dropout: o.dropout, threads: o.threads, device: o.device });
  const ckpt = join(o.out, CHECKPOINT_DIR);
  try {
    log(`engine: ${engine.description}`);
    const fingerprint = runFingerprint(start.tokenizerJson, rows, o);
    const resumed = o.resume ? await restoreLoop(ckpt, engine, fingerprint, log) : undefined;
    const history = resumed ? [...resumed.history] : [];
    let step = resumed ? resumed.optimizerStep : 0;
    const realTokens = rows.map((r) => r.reduce((n, id) => n + (masking.specialIds.has(id) ? 0 : 1), 0));
    const run: PretrainRun = { o, rows, realTokens, masking, engine, epochs, schedule: { kind: 'linear', warmupSteps: Math.round(o.warmupRatio * totalSteps), totalSteps } };
    for (let epoch = resumed?.epochsDone ?? 0; epoch < epochs; epoch++) {
      const rec = await runEpoch(run, epoch, step);
      step += rec.steps;
      history.push(rec);
      log(`epoch ${rec.epoch}: MLM loss ${rec.loss.toFixed(4)}, masked-token accuracy ${rec.accuracy.toFixed(4)} (${rec.masked} masked tokens, ${((100 * rec.masked) / rec.maskable).toFixed(1)}% of real tokens, ${rec.seconds.toFixed(0)} s)`);
      await saveLoop(ckpt, engine, { epochsDone: epoch + 1, history, optimizerStep: step, fingerprint });
      o.afterEpoch?.(epoch + 1);
    }
    const seconds = (Date.now() - started) / 1000;
    const trained = new Map([...start.weights].map(([n, t]) => [n, t]));
    for (const [n, t] of engine.snapshot()) trained.set(n, { shape: [...t.shape], data: t.data });
    const bundleDir = await writePretrainOutputs({ out: o.out, options: o, start, weights: trained, history, corpus: { texts: corpus.texts.length, rows: rows.length, tokens, duplicates: corpus.duplicates, sources: corpus.sources }, seconds, engine: engine.description }, log);
    await removeCheckpoint(ckpt);
    return { bundleDir, epochs: history, seconds };
  } finally {
    await engine.dispose();
  }
}
