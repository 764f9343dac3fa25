import onnxProto from 'onnx-proto';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../onnx-names.ts';
// Before onnxruntime-node: it must see the telemetry setting when it starts.
import './ort-telemetry.ts';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/**
 * The machine's practical ceiling for the model's dominant operation: a plain
 * n×n float32 matrix product through the same onnxruntime build and thread
 * count as the model. Benchmarks report model GFLOP/s against it.
 */
export async function measureMatMulGflops(n = 1024, threads = 0, minSeconds = 2, shape?: { m: number; k: number }): Promise<number> {
  // [m, k] × [k, n]: square by default; the model's own GEMM shape when given.
  const m = shape?.m ?? n;
  const k = shape?.k ?? n;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const b = new Float32Array(k * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const model = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: 'matmul',
        // Summed to a scalar so the timing is the product, not copying a large output back to JS.
        node: [
          { opType: 'MatMul', input: ['input_ids', 'b'], output: ['p'], name: 'mm' },
          { opType: 'ReduceSum', input: ['p'], output: ['y'], name: 'sum', attribute: [{ name: 'keepdims', i: 0, type: onnx.AttributeProto.AttributeType.INT }] },
        ],
        initializer: [{ name: 'b', dims: [k, n], dataType: FLOAT, rawData: new Uint8Array(b.buffer) }],
        input: [{ name: 'input_ids', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: m }, { dimValue: k }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: FLOAT, shape: { dim: [] } } } }],
      },
    }),
  ).finish();
  // Same session options as the model's runner: thread count and full optimisation.
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const a = new ort.Tensor('float32', new Float32Array(m * k).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5), [m, k]);
  const runner = (): Promise<unknown> => session.run({ input_ids: a });
  await runner();
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minSeconds || runs < 3) {
    await runner();
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  await session.release();
  return (2 * m * k * n * runs) / elapsed / 1e9;
}
