import onnxProto from 'onnx-proto';
import { ONNX_IR_VERSION, ONNX_OPSET } from './onnx-graph.ts';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/**
 * The machine's practical ceiling for the model's dominant operation: a plain
 * n×n float32 matrix product through the same onnxruntime build and thread
 * count as the model. Benchmarks report model GFLOP/s against it.
 */
export async function measureMatMulGflops(n = 1024, threads = 0, minSeconds = 2): Promise<number> {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const b = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const model = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: 'matmul',
        node: [{ opType: 'MatMul', input: ['input_ids', 'b'], output: ['y'], name: 'mm' }],
        initializer: [{ name: 'b', dims: [n, n], dataType: FLOAT, rawData: new Uint8Array(b.buffer) }],
        input: [{ name: 'input_ids', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } } }],
      },
    }),
  ).finish();
  // Same session options as the model's runner: thread count and full optimisation.
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const a = new ort.Tensor('float32', new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5), [n, n]);
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
  return (2 * n * n * n * runs) / elapsed / 1e9;
}
