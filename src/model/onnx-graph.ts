import onnxProto from 'onnx-proto';
import type { BertConfig } from './bert-config.ts';
import { checkWeights, layerPrefix, weightSpecs, type WeightMap, type WeightTensor } from './weights.ts';
import { LivetagError } from '../common/errors.ts';

const { onnx } = onnxProto;

export const ONNX_OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';
export const ONNX_IR_VERSION = 8;
export const INPUT_NAMES = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export const OUTPUT_NAME = 'logits';

/** HF's extended attention mask uses a large negative bias; -1e4 stays finite in fp16 too. */
const MASK_BIAS = -10000;

type Attr = { name: string; i?: number; f?: number; ints?: number[]; type: number };
const A = onnx.AttributeProto.AttributeType;

function intAttr(name: string, v: number): Attr {
  return { name, i: v, type: A.INT };
}
function floatAttr(name: string, v: number): Attr {
  return { name, f: v, type: A.FLOAT };
}
function intsAttr(name: string, v: number[]): Attr {
  return { name, ints: v, type: A.INTS };
}

/** Minimal graph builder: unique node names, constants as initializers. */
class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private counter = 0;

  op(opType: string, inputs: string[], attrs: Attr[] = [], outName?: string, domain?: string): string {
    const out = outName ?? `${opType.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ opType, input: inputs, output: [out], name: `${opType}_${this.counter++}`, attribute: attrs, ...(domain ? { domain } : {}) });
    return out;
  }

  /** onnxruntime's contrib operators (com.microsoft), implemented for CPU and CUDA. */
  msOp(opType: string, inputs: string[], attrs: Attr[] = [], outName?: string): string {
    return this.op(opType, inputs, attrs, outName, MS_DOMAIN);
  }

  floatTensor(name: string, t: WeightTensor): string {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    this.initializers.push({ name, dims: [...t.shape], dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  scalarFloat(value: number): string {
    return this.floatTensor(`const_f_${this.counter++}`, { shape: [], data: Float32Array.of(value) });
  }

  int64s(values: number[], scalar = false): string {
    const name = `const_i_${this.counter++}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims: scalar ? [] : [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }
}

function io(name: string, elemType: number, dims: (string | number)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export interface BuildOptions {
  /**
   * Stop after this many encoder layers and output their hidden states
   * (`hidden_states` [batch, sequence, hidden]) instead of logits: the trainer
   * runs frozen lower layers through onnxruntime once and caches them.
   */
  readonly hiddenAfterLayers?: number;
  readonly meta?: Record<string, string>;
  /**
   * Emit onnxruntime's fused transformer operators (Attention with packed
   * QKV, SkipLayerNormalization, BiasGelu) instead of standard ones. Faster
   * on onnxruntime's CPU and CUDA providers; a serving variant only (its
   * packed weights are not read back by readBertWeights).
   */
  readonly fused?: boolean;
}

/** Concatenates the transposes of [out, in] matrices column-wise: [in, sum(out)]. */
function packTransposed(mats: WeightTensor[]): WeightTensor {
  const inp = mats[0].shape[1];
  const outs = mats.map((m) => m.shape[0]);
  const total = outs.reduce((a, b) => a + b, 0);
  const data = new Float32Array(inp * total);
  let col = 0;
  for (const m of mats) {
    const out = m.shape[0];
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) data[i * total + col + o] = m.data[o * inp + i];
    col += out;
  }
  return { shape: [inp, total], data };
}

function concat(vectors: WeightTensor[]): WeightTensor {
  const data = new Float32Array(vectors.reduce((a, v) => a + v.data.length, 0));
  let at = 0;
  for (const v of vectors) {
    data.set(v.data, at);
    at += v.data.length;
  }
  return { shape: [data.length], data };
}

export const HIDDEN_OUTPUT_NAME = 'hidden_states';

/**
 * Emits BERT-for-sequence-classification as standard ONNX operators. Weights
 * keep Hugging Face's names and layouts (Linear as [out, in] behind a
 * Transpose), so the reader is a plain lookup and onnxruntime's constant
 * folding removes the transposes at load.
 */
export function buildBertOnnx(config: BertConfig, weights: WeightMap, opts: BuildOptions = {}): Uint8Array {
  checkWeights(config, weights);
  const prefix = opts.hiddenAfterLayers;
  if (prefix !== undefined && (prefix < 0 || prefix > config.numLayers)) {
    throw new LivetagError('LT_WEIGHTS_INVALID', `hiddenAfterLayers ${prefix} is outside 0..${config.numLayers}`);
  }
  const layers = prefix ?? config.numLayers;
  const g = new GraphBuilder();
  const used = weightSpecs(config).filter((spec) => {
    if (prefix === undefined) return true;
    const m = /^bert\.encoder\.layer\.(\d+)\./.exec(spec.name);
    if (m) return Number(m[1]) < prefix;
    return spec.name.startsWith('bert.embeddings.');
  });
  for (const spec of used) g.floatTensor(spec.name, weights.get(spec.name)!);

  const linear = (x: string, name: string): string => {
    const wt = g.op('Transpose', [`${name}.weight`], [intsAttr('perm', [1, 0])]);
    return g.op('Add', [g.op('MatMul', [x, wt]), `${name}.bias`]);
  };
  const layerNorm = (x: string, name: string, out?: string): string =>
    g.op(
      'LayerNormalization',
      [x, `${name}.weight`, `${name}.bias`],
      [intAttr('axis', -1), floatAttr('epsilon', config.layerNormEps)],
      out,
    );

  // Embeddings: word + position + token type, then LayerNorm.
  const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), g.int64s([1], true)], [intAttr('axis', 0)]);
  const positions = g.op('Range', [g.int64s([0], true), seqLen, g.int64s([1], true)]);
  const word = g.op('Gather', ['bert.embeddings.word_embeddings.weight', 'input_ids'], [intAttr('axis', 0)]);
  const pos = g.op('Gather', ['bert.embeddings.position_embeddings.weight', positions], [intAttr('axis', 0)]);
  const typ = g.op('Gather', ['bert.embeddings.token_type_embeddings.weight', 'token_type_ids'], [intAttr('axis', 0)]);
  const embOut = layers === 0 && prefix !== undefined ? HIDDEN_OUTPUT_NAME : undefined;
  let x = layerNorm(g.op('Add', [g.op('Add', [word, pos]), typ]), 'bert.embeddings.LayerNorm', embOut);

  // Additive mask [B, 1, 1, S]: 0 where attended, MASK_BIAS where padded (the fused Attention takes the raw mask).
  const additiveMask = (): string => {
    const maskF = g.op('Cast', ['attention_mask'], [intAttr('to', onnx.TensorProto.DataType.FLOAT)]);
    const inverted = g.op('Sub', [g.scalarFloat(1), maskF]);
    return g.op('Unsqueeze', [g.op('Mul', [inverted, g.scalarFloat(MASK_BIAS)]), g.int64s([1, 2])]);
  };
  const maskBias = opts.fused || layers === 0 ? '' : additiveMask();

  const heads = config.numHeads;
  const headDim = config.hiddenSize / heads;
  const splitShape = g.int64s([0, 0, heads, headDim]);
  const mergeShape = g.int64s([0, 0, config.hiddenSize]);
  const scale = g.scalarFloat(1 / Math.sqrt(headDim));
  const sqrt2 = g.scalarFloat(Math.SQRT2);
  const one = g.scalarFloat(1);
  const half = g.scalarFloat(0.5);

  const fused = opts.fused === true;
  const maskInt = fused ? g.op('Cast', ['attention_mask'], [intAttr('to', onnx.TensorProto.DataType.INT32)]) : '';
  const matmulT = (t: string, name: string): string =>
    g.op('MatMul', [t, g.op('Transpose', [`${name}.weight`], [intsAttr('perm', [1, 0])])]);

  for (let i = 0; i < layers && fused; i++) {
    const p = layerPrefix(i);
    const w = (n: string): WeightTensor => weights.get(n)!;
    const qkvW = g.floatTensor(`${p}.attention.self.qkv.weight`, packTransposed(['query', 'key', 'value'].map((n) => w(`${p}.attention.self.${n}.weight`))));
    const qkvB = g.floatTensor(`${p}.attention.self.qkv.bias`, concat(['query', 'key', 'value'].map((n) => w(`${p}.attention.self.${n}.bias`))));
    // Attention's default mask_filter_value is -10000, the same bias the unfused graph adds.
    const attn = g.msOp('Attention', [x, qkvW, qkvB, maskInt], [intAttr('num_heads', heads)]);
    const skipLn = (t: string, skip: string, bias: string, norm: string, out?: string): string =>
      g.msOp('SkipLayerNormalization', [t, skip, `${norm}.weight`, `${norm}.bias`, bias], [floatAttr('epsilon', config.layerNormEps)], out);
    x = skipLn(matmulT(attn, `${p}.attention.output.dense`), x, `${p}.attention.output.dense.bias`, `${p}.attention.output.LayerNorm`);
    const gelu = g.msOp('BiasGelu', [matmulT(x, `${p}.intermediate.dense`), `${p}.intermediate.dense.bias`]);
    const last = prefix !== undefined && i === layers - 1 ? HIDDEN_OUTPUT_NAME : undefined;
    x = skipLn(matmulT(gelu, `${p}.output.dense`), x, `${p}.output.dense.bias`, `${p}.output.LayerNorm`, last);
  }

  for (let i = 0; i < layers && !fused; i++) {
    const p = layerPrefix(i);
    const split = (t: string, perm: number[]): string =>
      g.op('Transpose', [g.op('Reshape', [t, splitShape])], [intsAttr('perm', perm)]);
    const q = split(linear(x, `${p}.attention.self.query`), [0, 2, 1, 3]);
    const k = split(linear(x, `${p}.attention.self.key`), [0, 2, 3, 1]);
    const v = split(linear(x, `${p}.attention.self.value`), [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, k]), scale]), maskBias]);
    const probs = g.op('Softmax', [scores], [intAttr('axis', -1)]);
    const ctx = g.op('Reshape', [
      g.op('Transpose', [g.op('MatMul', [probs, v])], [intsAttr('perm', [0, 2, 1, 3])]),
      mergeShape,
    ]);
    const attnOut = linear(ctx, `${p}.attention.output.dense`);
    x = layerNorm(g.op('Add', [attnOut, x]), `${p}.attention.output.LayerNorm`);

    // GELU, exact (erf) form as in Hugging Face's "gelu".
    const inter = linear(x, `${p}.intermediate.dense`);
    const erf = g.op('Erf', [g.op('Div', [inter, sqrt2])]);
    const gelu = g.op('Mul', [g.op('Mul', [inter, half]), g.op('Add', [erf, one])]);
    const out = linear(gelu, `${p}.output.dense`);
    const last = prefix !== undefined && i === layers - 1 ? HIDDEN_OUTPUT_NAME : undefined;
    x = layerNorm(g.op('Add', [out, x]), `${p}.output.LayerNorm`, last);
  }

  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  let output: onnxProto.onnx.IValueInfoProto;
  if (prefix === undefined) {
    const first = g.op('Gather', [x, g.int64s([0], true)], [intAttr('axis', 1)]);
    const pooled = g.op('Tanh', [linear(first, 'bert.pooler.dense')]);
    const wt = g.op('Transpose', ['classifier.weight'], [intsAttr('perm', [1, 0])]);
    g.op('Add', [g.op('MatMul', [pooled, wt]), 'classifier.bias'], [], OUTPUT_NAME);
    output = io(OUTPUT_NAME, FLOAT, ['batch', config.numLabels]);
  } else {
    output = io(HIDDEN_OUTPUT_NAME, FLOAT, ['batch', 'sequence', config.hiddenSize]);
  }

  const INT64 = onnx.TensorProto.DataType.INT64;
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: 'livetag',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(opts.fused ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
    metadataProps: Object.entries(opts.meta ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'bert_multilabel',
      node: g.nodes,
      initializer: g.initializers,
      input: INPUT_NAMES.map((n) => io(n, INT64, ['batch', 'sequence'])),
      output: [output],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface OnnxSummary {
  readonly inputs: string[];
  readonly outputs: string[];
  readonly outputWidth: number | undefined;
  readonly meta: Record<string, string>;
}

function decode(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new LivetagError('LT_ONNX_INVALID', `cannot parse ONNX: ${(cause as Error).message}`, { cause });
  }
}

/** Inputs, outputs and the static label width of a graph, without loading weights into a runtime. */
export function summarizeOnnx(bytes: Uint8Array): OnnxSummary {
  const model = decode(bytes);
  const graph = model.graph;
  if (!graph) throw new LivetagError('LT_ONNX_INVALID', 'ONNX model has no graph');
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  const outputs = graph.output ?? [];
  const out = outputs[0];
  const dims = out?.type?.tensorType?.shape?.dim ?? [];
  const last = dims[dims.length - 1];
  const width = last?.dimValue != null ? Number(last.dimValue) : undefined;
  return {
    inputs: (graph.input ?? []).map((i) => String(i.name)).filter((n) => !inits.has(n)),
    outputs: outputs.map((o) => String(o.name)),
    outputWidth: width,
    meta: Object.fromEntries((model.metadataProps ?? []).map((p) => [String(p.key), String(p.value)])),
  };
}

/** How many nodes of each operator a graph has, e.g. to see which fusions onnxruntime applied. */
export function opTypeCounts(bytes: Uint8Array): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of decode(bytes).graph?.node ?? []) {
    const key = node.domain ? `${node.domain}.${node.opType}` : String(node.opType);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The weight map of a graph written by buildBertOnnx (canonical names, float32). */
export function readBertWeights(config: BertConfig, bytes: Uint8Array): WeightMap {
  const graph = decode(bytes).graph;
  if (!graph) throw new LivetagError('LT_ONNX_INVALID', 'ONNX model has no graph');
  const byName = new Map((graph.initializer ?? []).map((t) => [t.name, t]));
  const map: WeightMap = new Map();
  for (const spec of weightSpecs(config)) {
    const t = byName.get(spec.name);
    if (!t) throw new LivetagError('LT_ONNX_INVALID', `ONNX graph lacks initializer ${spec.name}`);
    map.set(spec.name, { shape: (t.dims ?? []).map(Number), data: tensorToFloat32(t) });
  }
  checkWeights(config, map);
  return map;
}

function tensorToFloat32(t: onnxProto.onnx.ITensorProto): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new LivetagError('LT_ONNX_INVALID', `initializer ${t.name} is not float32 (type ${t.dataType})`);
  }
  if (t.rawData && t.rawData.length > 0) {
    // Copy: rawData is a view into the decoded file and may be unaligned.
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}
