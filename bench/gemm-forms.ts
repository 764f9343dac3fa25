/**
 * Why a training step costs more than three serving forwards: the bert-base
 * step's GEMM shapes, one at a time, in the operand layouts the training
 * graph could use, through the same onnxruntime session options.
 *
 *   node --import tsx bench/gemm-forms.ts [--tokens 704] [--seconds 1.5] [--rounds 2]
 *
 * --tokens is batch × padded length (32 × 22 on the tianchi texts). Each
 * shape runs as a plain MatMul (both operands fed), with the weight as an
 * initializer (what the serving graph has: onnxruntime pre-packs it), with
 * one operand transposed inside FusedMatMul (how backward GEMMs read a
 * tensor without copying it), and with an explicit Transpose before a plain
 * MatMul. Prints ms and GFLOP/s per form, each shape's forms side by side.
 */
import onnxProto from 'onnx-proto';
import { parseArgs } from 'node:util';
import { DataType, GraphBuilder, intAttr, valueInfo } from '../src/model/build/onnx-graph-builder.ts';
import { MS_DOMAIN, ONNX_IR_VERSION, ONNX_OPSET } from '../src/model/onnx-names.ts';
import { createGraphSession, type Feed } from '../src/model/runtime/graph-session.ts';

const { values } = parseArgs({ options: { tokens: { type: 'string', default: '704' }, seconds: { type: 'string', default: '1.5' }, rounds: { type: 'string', default: '2' } } });
const T = Number(values.tokens);
const H = 768;
const I = 3072;

/** 'plain': a·b; 'packed': b an initializer; 'transA'/'transB': that operand stored transposed, read by FusedMatMul; 'transpose': a stored transposed, a Transpose node, then MatMul. */
type Form = 'plain' | 'packed' | 'transA' | 'transB' | 'transpose';

async function time(m: number, n: number, k: number, form: Form): Promise<number> {
  const aDims = form === 'transA' || form === 'transpose' ? [k, m] : [m, k];
  const bDims = form === 'transB' ? [n, k] : [k, n];
  const b = new Float32Array(k * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const g = new GraphBuilder();
  if (form === 'packed') g.float32Tensor('b', { shape: bDims, data: b });
  const a = form === 'transpose' ? g.op('Transpose', ['a']) : 'a';
  const product =
    form === 'transA' || form === 'transB'
      ? g.msOp('FusedMatMul', [a, 'b'], [intAttr('transA', form === 'transA' ? 1 : 0), intAttr('transB', form === 'transB' ? 1 : 0)])
      : g.op('MatMul', [a, 'b']);
  // Summed to a scalar so the timing is the product, not moving a large output to JS.
  g.op('ReduceSum', [product], [intAttr('keepdims', 0)], 'y');
  const model = onnxProto.onnx.ModelProto.encode(
    onnxProto.onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }, { domain: MS_DOMAIN, version: 1 }],
      graph: {
        name: 'gemm',
        node: g.nodes,
        initializer: g.initializers,
        input: [valueInfo('a', DataType.FLOAT, aDims), ...(form === 'packed' ? [] : [valueInfo('b', DataType.FLOAT, bDims)])],
        output: [valueInfo('y', DataType.FLOAT, [])],
      },
    }),
  ).finish();
  const session = await createGraphSession(model, {});
  const feeds: Record<string, Feed> = { a: { type: 'float32', data: new Float32Array(m * k).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5), dims: aDims } };
  if (form !== 'packed') feeds.b = { type: 'float32', data: b, dims: bDims };
  await session.run(feeds);
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < Number(values.seconds) * 1000 || runs < 3) {
    await session.run(feeds);
    runs++;
  }
  const ms = (performance.now() - start) / runs;
  await session.release();
  return ms;
}

// [what, m, n, k, forms]: the forward's weight GEMMs, the backward's input gradients (dY·Wᵀ) and weight gradients (Xᵀ·dY).
const SHAPES: ReadonlyArray<[string, number, number, number, Form[]]> = [
  ['forward, 768 → 768 (Q, K, V, O)', T, H, H, ['packed', 'plain']],
  ['forward, 768 → 3072 (FFN in)', T, I, H, ['packed', 'plain']],
  ['forward, 3072 → 768 (FFN out)', T, H, I, ['packed', 'plain']],
  ['input gradient through FFN in: dH·W1ᵀ', T, H, I, ['transB', 'plain']],
  ['weight gradient 768 × 768: Xᵀ·dY', H, H, T, ['transA', 'transpose', 'plain']],
  ['weight gradient 768 × 3072: Xᵀ·dH', H, I, T, ['transA', 'transpose', 'plain']],
  ['weight gradient 3072 × 768: Hᵀ·dY', I, H, T, ['transA', 'transpose', 'plain']],
];

console.log(`GEMM forms at ${T} tokens (ms; GFLOP/s). plain: both operands fed as laid out; packed: the weight an initializer, as in the serving graph; transA/transB: that operand read transposed by FusedMatMul; transpose: a Transpose node, then plain.\n`);
console.log('| shape | m × n × k | round | forms |');
console.log('|---|---|---:|---|');
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const [what, m, n, k, forms] of SHAPES) {
    const cells: string[] = [];
    for (const form of forms) {
      const ms = await time(m, n, k, form);
      cells.push(`${form} ${ms.toFixed(2)} ms, ${((2 * m * n * k) / ms / 1e6).toFixed(0)}`);
    }
    console.log(`| ${what} | ${m} × ${n} × ${k} | ${round} | ${cells.join('; ')} |`);
  }
}
