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

  /** half: float weights are stored as float16 (the fp16 variant). */
  constructor(readonly half = false) {}

  op(opType: string, inputs: string[], attrs: Attr[] = [], outName?: string, domain?: string): string {
    return this.opN(opType, inputs, 1, attrs, outName ? [outName] : undefined, domain)[0];
  }

  opN(opType: string, inputs: string[], outputs: number, attrs: Attr[] = [], outNames?: string[], domain?: string): string[] {
    const outs = outNames ?? Array.from({ length: outputs }, () => `${opType.toLowerCase()}_${this.counter++}`);
    this.nodes.push({ opType, input: inputs, output: outs, name: `${opType}_${this.counter++}`, attribute: attrs, ...(domain ? { domain } : {}) });
    return outs;
  }

  /** onnxruntime's contrib operators (com.microsoft), implemented for CPU and CUDA. */
  msOp(opType: string, inputs: string[], attrs: Attr[] = [], outName?: string): string {
    return this.op(opType, inputs, attrs, outName, MS_DOMAIN);
  }

  floatTensor(name: string, t: WeightTensor): string {
    if (this.half) {
      const bits = float32ToFloat16Bits(t.data);
      this.initializers.push({ name, dims: [...t.shape], dataType: onnx.TensorProto.DataType.FLOAT16, rawData: new Uint8Array(bits.buffer) });
      return name;
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    this.initializers.push({ name, dims: [...t.shape], dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  /** Float32 whatever the mode: quantization scales and operator parameters that must stay fp32. */
  float32Tensor(name: string, t: WeightTensor): string {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    this.initializers.push({ name, dims: [...t.shape], dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  int8Tensor(name: string, shape: number[], data: Int8Array): string {
    this.initializers.push({ name, dims: shape, dataType: onnx.TensorProto.DataType.INT8, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
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

/** IEEE 754 binary16 bits, round to nearest even; overflow saturates to ±Inf as a cast would. */
export function float32ToFloat16Bits(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/**
 * Symmetric per-column int8 quantization of a [in, out] matrix: one scale per
 * output column (max |w| / 127), zero point 0, as onnxruntime's dynamic
 * quantization does for weights.
 */
export function quantizeColumns(w: WeightTensor): { data: Int8Array; scales: Float32Array } {
  const [rows, cols] = w.shape;
  const scales = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) scales[c] = Math.max(scales[c], Math.abs(w.data[r * cols + c]));
  for (let c = 0; c < cols; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
  const data = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) data[r * cols + c] = Math.max(-127, Math.min(127, Math.round(w.data[r * cols + c] / scales[c])));
  }
  return { data, scales };
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
  /**
   * Serving precision of a fused graph. int8: weight matrices quantized per
   * column, activations quantized per batch at run time (QAttention,
   * DynamicQuantizeMatMul; onnxruntime CPU). fp16: every float weight and
   * activation in half precision, logits cast back to float32 (for CUDA; on
   * CPU onnxruntime inserts casts around operators it lacks fp16 kernels for).
   */
  readonly precision?: 'fp32' | 'int8' | 'fp16';
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
  const precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && (!opts.fused || prefix !== undefined)) {
    throw new LivetagError('LT_WEIGHTS_INVALID', `precision ${precision} is a serving variant of the fused full graph (set fused, not hiddenAfterLayers)`);
  }
  const g = new GraphBuilder(precision === 'fp16');
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

  const INT32 = onnx.TensorProto.DataType.INT32;
  const maskInt = opts.fused ? g.op('Cast', ['attention_mask'], [intAttr('to', INT32)]) : '';
  let x: string;
  if (opts.fused && prefix === undefined) {
    // EmbedLayerNormalization: the three lookups, their sum and the LayerNorm
    // in one kernel (positions 0…S-1, as the unfused graph's Range).
    const int32 = (name: string): string => g.op('Cast', [name], [intAttr('to', INT32)]);
    [x] = g.opN(
      'EmbedLayerNormalization',
      [
        int32('input_ids'),
        int32('token_type_ids'),
        'bert.embeddings.word_embeddings.weight',
        'bert.embeddings.position_embeddings.weight',
        'bert.embeddings.token_type_embeddings.weight',
        'bert.embeddings.LayerNorm.weight',
        'bert.embeddings.LayerNorm.bias',
        maskInt,
      ],
      2,
      [floatAttr('epsilon', config.layerNormEps)],
      undefined,
      MS_DOMAIN,
    );
  } else {
    // Embeddings: word + position + token type, then LayerNorm.
    const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), g.int64s([1], true)], [intAttr('axis', 0)]);
    const positions = g.op('Range', [g.int64s([0], true), seqLen, g.int64s([1], true)]);
    const word = g.op('Gather', ['bert.embeddings.word_embeddings.weight', 'input_ids'], [intAttr('axis', 0)]);
    const pos = g.op('Gather', ['bert.embeddings.position_embeddings.weight', positions], [intAttr('axis', 0)]);
    const typ = g.op('Gather', ['bert.embeddings.token_type_embeddings.weight', 'token_type_ids'], [intAttr('axis', 0)]);
    const embOut = layers === 0 && prefix !== undefined ? HIDDEN_OUTPUT_NAME : undefined;
    x = layerNorm(g.op('Add', [g.op('Add', [word, pos]), typ]), 'bert.embeddings.LayerNorm', embOut);
  }

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
  const int8 = precision === 'int8';
  const quantized = (name: string, w: WeightTensor): { weight: string; scale: string } => {
    const q = quantizeColumns(w);
    return { weight: g.int8Tensor(`${name}.weight_int8`, [...w.shape], q.data), scale: g.float32Tensor(`${name}.weight_scale`, { shape: [q.scales.length], data: q.scales }) };
  };
  const matmulT = (t: string, name: string): string => {
    if (!int8) return g.op('MatMul', [t, g.op('Transpose', [`${name}.weight`], [intsAttr('perm', [1, 0])])]);
    const q = quantized(name, packTransposed([weights.get(`${name}.weight`)!]));
    return g.msOp('DynamicQuantizeMatMul', [t, q.weight, q.scale]);
  };

  for (let i = 0; i < layers && fused; i++) {
    const p = layerPrefix(i);
    const w = (n: string): WeightTensor => weights.get(n)!;
    const qkv = packTransposed(['query', 'key', 'value'].map((n) => w(`${p}.attention.self.${n}.weight`)));
    const qkvB = concat(['query', 'key', 'value'].map((n) => w(`${p}.attention.self.${n}.bias`)));
    let attn: string;
    if (int8) {
      const q = quantized(`${p}.attention.self.qkv`, qkv);
      const [xq, xScale, xZero] = g.opN('DynamicQuantizeLinear', [x], 3);
      attn = g.msOp('QAttention', [xq, q.weight, g.float32Tensor(`${p}.attention.self.qkv.bias`, qkvB), xScale, q.scale, maskInt, xZero], [intAttr('num_heads', heads)]);
    } else {
      // Attention's default mask_filter_value is -10000, the same bias the unfused graph adds.
      const qkvW = g.floatTensor(`${p}.attention.self.qkv.weight`, qkv);
      attn = g.msOp('Attention', [x, qkvW, g.floatTensor(`${p}.attention.self.qkv.bias`, qkvB), maskInt], [intAttr('num_heads', heads)]);
    }
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
    if (precision === 'fp16') {
      // Callers always read float32 logits.
      g.op('Cast', [g.op('Add', [g.op('MatMul', [pooled, wt]), 'classifier.bias'])], [intAttr('to', FLOAT)], OUTPUT_NAME);
    } else {
      g.op('Add', [g.op('MatMul', [pooled, wt]), 'classifier.bias'], [], OUTPUT_NAME);
    }
    output = io(OUTPUT_NAME, FLOAT, ['batch', config.numLabels]);
  } else {
    output = io(HIDDEN_OUTPUT_NAME, FLOAT, ['batch', 'sequence', config.hiddenSize]);
  }

  const INT64 = onnx.TensorProto.DataType.INT64;
  // Fused and quantized graphs repack weights; drop the originals they no longer read.
  const read = new Set(g.nodes.flatMap((n) => n.input ?? []));
  const initializers = g.initializers.filter((t) => read.has(String(t.name)));
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: 'livetag',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(opts.fused ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
    metadataProps: Object.entries(opts.meta ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'bert_multilabel',
      node: g.nodes,
      initializer: initializers,
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
