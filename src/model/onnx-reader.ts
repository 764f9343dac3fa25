import onnxProto from 'onnx-proto';
import type { BertConfig } from './bert-config.ts';
import { checkWeights, weightSpecs, type WeightMap } from './weights.ts';
import { LivetagError } from '../common/errors.ts';

const { onnx } = onnxProto;

export interface OnnxSummary {
  readonly inputs: string[];
  readonly outputs: string[];
  readonly outputWidth: number | undefined;
  /** Rows of the position embedding table: the longest sequence the graph can run (undefined if it has none by that name). */
  readonly positions: number | undefined;
  readonly meta: Record<string, string>;
}

const POSITION_TABLE = 'bert.embeddings.position_embeddings.weight';

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
  const table = (graph.initializer ?? []).find((t) => t.name === POSITION_TABLE);
  return {
    inputs: (graph.input ?? []).map((i) => String(i.name)).filter((n) => !inits.has(n)),
    outputs: outputs.map((o) => String(o.name)),
    outputWidth: width,
    positions: table?.dims?.length ? Number(table.dims[0]) : undefined,
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

/** The largest |value| of a graph's int8 initializers (0 without any): 64 for weights quantized as livetag does now, up to 127 for older int8 variants. */
export function int8WeightRange(bytes: Uint8Array): number {
  let max = 0;
  for (const t of decode(bytes).graph?.initializer ?? []) {
    if (t.dataType !== onnx.TensorProto.DataType.INT8) continue;
    const values = t.rawData && t.rawData.length > 0 ? new Int8Array(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength) : (t.int32Data ?? []);
    for (const v of values) max = Math.max(max, Math.abs(v));
  }
  return max;
}
