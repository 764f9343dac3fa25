/**
 * Where a training step's time goes against the serving forward, kernel by
 * kernel, from onnxruntime's own profiler:
 *
 *   node --import tsx bench/train-step-profile.ts [--shape small|base] [--steps N] [--top N] [--nodes N]
 *
 * The training graph as the onnxruntime engine builds it (the recipe's loss,
 * dropout masks fed, the word table's gradient as rows) and the serving graph
 * of the same weights run the same batches of tianchi texts (bench/train-engines.ts's
 * data and shapes), a warm-up pass over the batches and then the timed pass; their
 * kernel times are summed by kind of operator. The
 * profiler adds a few µs to every kernel, so the ratios here are of kernel
 * time, not the engine's wall time (bench/train-engines.ts measures that).
 * `--nodes N` also lists the training graph's N costliest nodes, one by one.
 * Writes bench/results/train-step-profile-<shape>.md.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBertOnnx } from '../src/model/build/onnx-graph.ts';
import { buildTrainingGraph, TRAINING_INPUTS } from '../src/model/build/training-graph.ts';
import { INPUT_NAMES } from '../src/model/onnx-names.ts';
import { createGraphSession, TRAINING_SESSION, type Feed } from '../src/model/runtime/graph-session.ts';
import type { SessionOptions } from '../src/model/runtime/onnx-session.ts';
import { WORD_EMBEDDINGS } from '../src/model/weights.ts';
import { createDropoutMasks } from '../src/training/dropout-masks.ts';
import { shuffledBatches } from '../src/training/features.ts';
import { inputFeeds, trainingLoss } from '../src/training/ort-engine.ts';
import { engineOptionsFor } from '../src/training/trainer.ts';
import { SHARED_DIR } from './lib/texts.ts';
import { trainShape } from './lib/train-shape.ts';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'small' },
    steps: { type: 'string' },
    top: { type: 'string', default: '15' },
    nodes: { type: 'string', default: '0' },
  },
});
const shape = values.shape === 'base' ? 'base' : 'small';
const steps = Number(values.steps ?? (shape === 'base' ? 4 : 60));
const BATCH = 32;

/** Operator kinds, so the table reads as GEMMs, elementwise passes, data movement, … */
const GEMM = 'GEMM (MatMul, FusedMatMul, Gemm, Attention)';
const KINDS: Record<string, readonly string[]> = {
  [GEMM]: ['MatMul', 'FusedMatMul', 'Gemm', 'FusedGemm', 'Attention'],
  'elementwise (Mul, Add, Sub, Erf, Exp, …)': ['Mul', 'Add', 'Sub', 'Div', 'Neg', 'Erf', 'Exp', 'Sqrt', 'Pow', 'Tanh', 'Sigmoid', 'Softplus', 'Log', 'Reciprocal', 'Where', 'Cast', 'Equal', 'Greater', 'Less', 'Max', 'Min', 'Sum', 'Relu', 'Not', 'BiasGelu', 'Gelu'],
  'layer norm': ['LayerNormalization', 'SkipLayerNormalization', 'EmbedLayerNormalization', 'ReduceMean'],
  'softmax': ['Softmax', 'LogSoftmax'],
  'sums (ReduceSum, Σg²)': ['ReduceSum', 'ReduceSumSquare'],
  'data movement (Transpose, Reshape, Gather, …)': ['Transpose', 'Reshape', 'Gather', 'GatherElements', 'ScatterND', 'ScatterElements', 'Concat', 'Split', 'Slice', 'Expand', 'Pad', 'Identity', 'Shape', 'Unsqueeze', 'Squeeze', 'Tile', 'Flatten'],
};
const kindOf = (op: string): string =>
  op.endsWith(WEIGHT_GRADIENT) ? `${GEMM}${WEIGHT_GRADIENT}s` : (Object.entries(KINDS).find(([, ops]) => ops.includes(op))?.[0] ?? 'other');

interface TraceEvent {
  readonly cat: string;
  readonly name: string;
  readonly ts: number;
  readonly dur: number;
  readonly args?: { readonly op_name?: string; readonly output_type_shape?: ReadonlyArray<Record<string, number[]>> };
}

interface Profile {
  /** Kernel µs per run by operator type. */
  readonly byOp: Map<string, number>;
  /** Distinct nodes that ran, by operator type. */
  readonly nodes: Map<string, number>;
  /** model_run µs per run (with the profiler's own cost). */
  readonly runUs: number;
  /** Kernel µs per run by node, with its operator type and first output's shape. */
  readonly byNode: Map<string, { op: string; dims: readonly number[]; us: number }>;
}

/** A GEMM whose output has a trainable weight's 2-D shape computes that weight's gradient. */
const WEIGHT_GRADIENT = ' → weight gradient';

/**
 * Kernel time per run by operator type (GEMMs into weight gradients apart), over the timed pass: the
 * batches run once to warm, then again under the clock, as bench/train-engines.ts times them
 * (onnxruntime plans each new input shape on its first run, and a first run at a new length costs up
 * to twice the next; a training job meets its shapes every epoch).
 */
function readTrace(file: string, runs: number, weightShapes: ReadonlySet<string>): Profile {
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  const timed = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(runs);
  const from = timed[0].ts;
  const byOp = new Map<string, number>();
  const names = new Map<string, Set<string>>();
  const byNode = new Map<string, { op: string; dims: readonly number[]; us: number }>();
  for (const e of events) {
    const type = e.args?.op_name;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !type || e.ts < from) continue;
    const dims = Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? [];
    const op = KINDS[GEMM].includes(type) && dims.length === 2 && weightShapes.has(dims.join('x')) ? type + WEIGHT_GRADIENT : type;
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / runs);
    names.set(op, (names.get(op) ?? new Set()).add(e.name));
    const node = byNode.get(e.name) ?? byNode.set(e.name, { op, dims, us: 0 }).get(e.name)!;
    node.us += e.dur / runs;
  }
  const runUs = timed.reduce((s, e) => s + e.dur, 0) / runs;
  return { byOp, nodes: new Map([...names].map(([op, s]) => [op, s.size])), runUs, byNode };
}

const { config, weights, features, rows, targets, recipe, source } = await trainShape(shape, SHARED_DIR, BATCH);
const engine = engineOptionsFor({ config, weights, frozenLayers: 0, features, recipe, targets, trainRows: rows });
const dropout = engine.dropout ?? 0;
const graph = buildTrainingGraph(config, weights, { loss: trainingLoss(engine.loss), frozenLayers: 0, dropout: dropout > 0, rowGradients: new Set([WORD_EMBEDDINGS]) });
const masks = createDropoutMasks(graph.dropoutSites);
const batches = shuffledBatches(rows, features.lengths, BATCH, 7).slice(0, steps);
const posWeight = Float32Array.from({ length: 13 }, (_, j) => engine.loss.posWeight?.[j] ?? 1);

/** The engine's own batch feeds (token ids: the bench's shapes have no wide branch). */
const batchFeeds = (b: number[]): Record<string, Feed> => inputFeeds(features.raw(b), undefined);

const dir = mkdtempSync(join(tmpdir(), 'livetag-step-profile-'));
async function profile(name: string, model: Uint8Array, feeds: (b: number[], i: number) => Record<string, Feed>, opts: SessionOptions = {}): Promise<Profile> {
  const session = await createGraphSession(model, { ...opts, profilePrefix: join(dir, name) });
  for (let pass = 0; pass < 2; pass++) for (const [i, b] of batches.entries()) await session.run(feeds(b, i));
  await session.release();
  const file = readdirSync(dir).find((f) => f.startsWith(name) && f.endsWith('.json'));
  if (!file) throw new Error(`onnxruntime wrote no profile for ${name}`);
  return readTrace(join(dir, file), steps, new Set([...weights.values()].filter((w) => w.shape.length === 2).map((w) => w.shape.join('x'))));
}

const weightFeeds = Object.fromEntries(graph.trainable.map((n) => [n, { type: 'float32', data: weights.get(n)!.data, dims: weights.get(n)!.shape } as Feed]));
let train: Profile;
let serve: Profile;
try {
  train = await profile('train', graph.bytes, (b, i) => {
    const x = batchFeeds(b);
    const dims = x[INPUT_NAMES[0]].dims;
    return {
      ...x,
      ...(dropout > 0 ? masks.feeds(dropout, i, { batch: dims[0], sequence: dims[1] }) : {}),
      ...weightFeeds,
      [TRAINING_INPUTS.labels]: { type: 'float32', data: Float32Array.from(b.flatMap((r) => [...targets[r]])), dims: [b.length, 13] },
      [TRAINING_INPUTS.posWeight]: { type: 'float32', data: posWeight, dims: [13] },
    };
  }, TRAINING_SESSION);
  serve = await profile('serve', buildBertOnnx(config, weights), (b) => batchFeeds(b));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ms = (us: number): string => (us / 1000).toFixed(shape === 'base' ? 1 : 3);
const sum = (m: Map<string, number>, keep: (op: string) => boolean = () => true): number => [...m].filter(([op]) => keep(op)).reduce((s, [, v]) => s + v, 0);
const kinds = [GEMM, `${GEMM}${WEIGHT_GRADIENT}s`, ...Object.keys(KINDS).slice(1), 'other'];
const trainTotal = sum(train.byOp);
const serveTotal = sum(serve.byOp);
const md = [
  `# A training step against the serving forward, kernel by kernel (${new Date().toISOString().slice(0, 10)})`,
  '',
  `\`node --import tsx bench/train-step-profile.ts --shape ${shape} --steps ${steps}${Number(values.nodes) > 0 ? ` --nodes ${values.nodes}` : ''}\`: ${shape === 'base' ? 'bert-base shape, all 12 layers trained' : 'the default small shape'}, batch ${BATCH}, ${source}; onnxruntime's profiler, ${steps} batches, timed in a second pass after a warm-up pass over the same batches.`,
  '',
  '| operators | training step ms | nodes | serving forward ms | nodes | step / forward |',
  '|---|---:|---:|---:|---:|---:|',
  ...kinds.map((k) => {
    const t = sum(train.byOp, (op) => kindOf(op) === k);
    const s = sum(serve.byOp, (op) => kindOf(op) === k);
    const n = (p: Profile) => sum(p.nodes, (op) => kindOf(op) === k);
    return `| ${k} | ${ms(t)} | ${n(train)} | ${ms(s)} | ${n(serve)} | ${s > 0 ? (t / s).toFixed(2) : '–'} |`;
  }),
  `| **all kernels** | **${ms(trainTotal)}** | ${sum(train.nodes)} | **${ms(serveTotal)}** | ${sum(serve.nodes)} | **${(trainTotal / serveTotal).toFixed(2)}** |`,
  `| a run, profiler included | ${ms(train.runUs)} | | ${ms(serve.runUs)} | | ${(train.runUs / serve.runUs).toFixed(2)} |`,
  '',
  `The training step's costliest operator types (ms per step):`,
  '',
  ...[...train.byOp]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(values.top))
    .map(([op, us]) => `- ${op}: ${ms(us)} (${train.nodes.get(op)} nodes)${serve.byOp.has(op) ? `; serving ${ms(serve.byOp.get(op)!)} (${serve.nodes.get(op)})` : ''}`),
  ...(Number(values.nodes) > 0
    ? [
        '',
        `The training step's ${values.nodes} costliest nodes (ms per step, output shape):`,
        '',
        ...[...train.byNode]
          .sort((a, b) => b[1].us - a[1].us)
          .slice(0, Number(values.nodes))
          .map(([name, n]) => `- ${name.replace(/_kernel_time$/, '')} (${n.op}): ${ms(n.us)} [${n.dims.join('×')}]`),
      ]
    : []),
].join('\n');
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `train-step-profile-${shape}.md`), md + '\n');
process.stdout.write(md + '\n');
