/** A minimal ONNX graph builder over onnx-proto: unique node names, constants as initializers. */
import onnxProto from 'onnx-proto';
import type { WeightTensor } from '../weights.ts';
import { MS_DOMAIN } from '../onnx-names.ts';
import { float32ToFloat16Bits } from './weight-packing.ts';

const { onnx } = onnxProto;

export type Attr = { name: string; i?: number; f?: number; ints?: number[]; s?: Uint8Array; type: number };
const A = onnx.AttributeProto.AttributeType;

export const DataType = onnx.TensorProto.DataType;

export function intAttr(name: string, v: number): Attr {
  return { name, i: v, type: A.INT };
}
export function floatAttr(name: string, v: number): Attr {
  return { name, f: v, type: A.FLOAT };
}
export function intsAttr(name: string, v: number[]): Attr {
  return { name, ints: v, type: A.INTS };
}
export function stringAttr(name: string, v: string): Attr {
  return { name, s: new TextEncoder().encode(v), type: A.STRING };
}

/** A graph input or output: element type and dims, a string dim being symbolic (batch, sequence). */
export function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnxProto.onnx.IValueInfoProto {
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

export class GraphBuilder {
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
      this.initializers.push({ name, dims: [...t.shape], dataType: DataType.FLOAT16, rawData: new Uint8Array(bits.buffer) });
      return name;
    }
    return this.float32Tensor(name, t);
  }

  /** Float32 whatever the mode: quantization scales and operator parameters that must stay fp32. */
  float32Tensor(name: string, t: WeightTensor): string {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    this.initializers.push({ name, dims: [...t.shape], dataType: DataType.FLOAT, rawData: bytes });
    return name;
  }

  int8Tensor(name: string, shape: number[], data: Int8Array): string {
    this.initializers.push({ name, dims: shape, dataType: DataType.INT8, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
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
      dataType: DataType.INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }
}
