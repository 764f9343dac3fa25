/**
 * Fused transformer operators on and off, side by side (issue 7): the same
 * weights written as standard ONNX operators and with onnxruntime's fused
 * Attention / SkipLayerNormalization / BiasGelu; parity on real comments and
 * texts/s at each batch size.
 *
 *   node --import tsx bench/fusion.ts [--shape small|base] [--seconds 5] [--batches 1,32]
 */
import { parseArgs } from 'node:util';
import { loadBundle } from '../src/model/bundle.ts';
import { buildBertOnnx, readBertWeights } from '../src/model/onnx-graph.ts';
import { createOrtRunner } from '../src/model/onnx-session.ts';
import type { ModelShape } from '../src/model/random-bundle.ts';
import { createTextEncoder } from '../src/model/tokenizer.ts';
import { benchModel } from './lib/models.ts';
import { liveComments } from './lib/texts.ts';

const { values } = parseArgs({ options: { shape: { type: 'string', default: 'small' }, seconds: { type: 'string', default: '5' }, batches: { type: 'string', default: '1,32' }, threads: { type: 'string', default: '0' } } });
const bundle = await loadBundle(await benchModel(values.shape as ModelShape));
const config = bundle.manifest.architecture;
const plainBytes = bundle.modelBytes;
const fusedBytes = buildBertOnnx(config, readBertWeights(config, plainBytes), { fused: true });
const threads = Number(values.threads);
const [plain, fused] = [await createOrtRunner(plainBytes, { threads }), await createOrtRunner(fusedBytes, { threads })];
const enc = createTextEncoder(bundle.tokenizerJson, bundle.manifest.maxSequenceLength);
const { texts, source } = liveComments();

let worst = 0;
for (let i = 0; i < 256; i += 32) {
  const batch = await enc.encode(texts.slice(i, i + 32));
  const [a, b] = [await plain.run(batch), await fused.run(batch)];
  a.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[j]))));
}
console.log(`model ${values.shape} (${config.numLayers} layers, hidden ${config.hiddenSize}); texts: ${source}`);
console.log(`parity on 256 real comments: max |Δlogit| ${worst.toExponential(2)}\n`);
console.log('| batch | standard texts/s | fused texts/s | fused / standard |');
console.log('|---:|---:|---:|---:|');
for (const size of values.batches.split(',').map(Number)) {
  const batches: Awaited<ReturnType<typeof enc.encode>>[] = [];
  for (let i = 0; i < 64; i++) batches.push(await enc.encode(texts.slice(i * size, (i + 1) * size)));
  const rate = async (r: typeof plain): Promise<number> => {
    await r.run(batches[0]);
    let n = 0;
    let k = 0;
    const start = performance.now();
    while (performance.now() - start < Number(values.seconds) * 1000) {
      const b = batches[k++ % batches.length];
      await r.run(b);
      n += b.batchSize;
    }
    return n / ((performance.now() - start) / 1000);
  };
  // Alternate to spread drift on a noisy machine evenly over both.
  const p1 = await rate(plain);
  const f1 = await rate(fused);
  const p2 = await rate(plain);
  const f2 = await rate(fused);
  const [p, f] = [(p1 + p2) / 2, (f1 + f2) / 2];
  console.log(`| ${size} | ${p.toFixed(1)} | ${f.toFixed(1)} | ${(f / p).toFixed(2)}× |`);
}
await Promise.all([plain.release(), fused.release()]);
