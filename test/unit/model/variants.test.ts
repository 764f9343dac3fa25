import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBundle } from '../../../src/model/runtime/load-bundle.ts';
import { parseManifest } from '../../../src/model/manifest.ts';
import { createClassifier } from '../../../src/model/runtime/classifier.ts';
import { float32ToFloat16Bits } from '../../../src/model/build/weight-packing.ts';
import onnxProto from 'onnx-proto';
import { int8WeightRange, opTypeCounts } from '../../../src/model/onnx-reader.ts';
import { int8PairsSaturate, int8Unsafe } from '../../../src/model/runtime/int8-saturation.ts';
import { optimizeBundle, buildVariantGraph, REWRITE_MAX_PROB_DIFF } from '../../../src/model/build/variants.ts';
import { buildBertOnnx } from '../../../src/model/build/onnx-graph.ts';
import { writeBundleFiles } from '../../../src/model/build/write-bundle.ts';
import { readBertWeights } from '../../../src/model/onnx-reader.ts';
import { createCommentGenerator } from '../../../src/demo/comment-generator.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

const root = tempDir();
const DEFAULT_MODEL = join(REPO_ROOT, 'models/default');
const gen = createCommentGenerator({ seed: 99 });
const texts = Array.from({ length: 400 }, () => gen.next().text);
const optimized = join(root, 'opt');
const run = optimizeBundle(DEFAULT_MODEL, optimized, { texts, textsSource: 'generated (test)', threads: 1, seconds: 0.2 });

test('float32 → float16 bits round to nearest even and saturate like a cast', () => {
  const bits = float32ToFloat16Bits(Float32Array.of(1, -2, 65504, 1e6, 5.960464477539063e-8, 1e-9, 0.1, Number.NaN, 1 + 2 ** -11));
  assert.deepEqual([...bits.slice(0, 7)], [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x2e66]);
  assert.equal(bits[7] & 0x7c00, 0x7c00);
  assert.ok(bits[7] & 0x3ff, 'NaN stays NaN');
  assert.equal(bits[8], 0x3c00, 'a tie rounds to the even neighbour');
});

test('int8 and fp16 variants use the quantized / half-precision operators', async () => {
  const bundle = await loadBundle(DEFAULT_MODEL);
  const layers = bundle.manifest.architecture.numLayers;
  const int8 = opTypeCounts(buildVariantGraph(bundle, 'int8'));
  // The last layer's [CLS]-only attention projects its query, and its keys and values packed, with two more int8 products.
  assert.equal(int8['com.microsoft.QAttention'], layers - 1);
  assert.equal(int8['com.microsoft.DynamicQuantizeMatMul'], 3 * layers + 2);
  assert.equal(int8['com.microsoft.Attention'], undefined);
  const fp16 = buildVariantGraph(bundle, 'fp16');
  assert.equal(opTypeCounts(fp16)['com.microsoft.Attention'], layers - 1);
  // Half the fused fp32 graph's size: every weight stored in 2 bytes, but the wide
  // n-gram branch's table and idf, which stay float32 (their logits are summed, not multiplied through layers).
  const fused = buildVariantGraph(bundle, 'fused');
  const ngram = bundle.manifest.architecture.ngram;
  const float32Bytes = ngram ? ngram.buckets * (bundle.manifest.labels.length + 1) * 4 : 0;
  assert.ok(fp16.byteLength - float32Bytes < (fused.byteLength - float32Bytes) * 0.55, `${fp16.byteLength} vs ${fused.byteLength} (${float32Bytes} bytes float32 in both)`);
});

test('optimize measures each variant against model.onnx and serves the fastest that keeps the tags', async () => {
  const { manifest, reports, serving } = await run;
  const byName = Object.fromEntries(reports.map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(manifest.variants ?? {}).sort(), ['fp16', 'fused', 'int8']);
  // Fusion is exact up to float rounding; the bound is 1e-4.
  assert.ok(byName.fused.variant.agreement.maxAbsProbDiff <= 1e-4, `fused Δp ${byName.fused.variant.agreement.maxAbsProbDiff}`);
  assert.equal(byName.fused.variant.agreement.sameTags, 1);
  for (const name of ['int8', 'fp16']) {
    const a = byName[name].variant.agreement;
    assert.equal(a.texts, texts.length);
    assert.ok(a.sameTags >= 0.99, `${name} keeps the tags on ${(a.sameTags * 100).toFixed(2)}% of texts`);
    assert.ok(a.maxAbsProbDiff > 0 && a.maxAbsProbDiff < 0.1, `${name} Δp ${a.maxAbsProbDiff}`);
  }
  assert.ok(byName.int8.variant.speedup && byName.int8.variant.speedup.ratio > 0, 'int8 speed measured on CPU');
  assert.equal(byName.fp16.variant.speedup, undefined, 'fp16 is for CUDA: no CPU speed claimed');
  assert.equal(serving.cuda, 'fp16');
  assert.ok(['base', 'fused', 'int8'].includes(serving.cpu), serving.cpu);
  assert.deepEqual(manifest.serving, serving);
  assert.equal(manifest.parentVersion, JSON.parse(await readFile(join(DEFAULT_MODEL, 'manifest.json'), 'utf8')).version);
});

test('a bundle from an older graph writer gets model.onnx from this one when it is the same model; a current one keeps its bytes', async () => {
  assert.equal((await run).base.changed, false, 'models/default is written by this writer');
  const bundle = await loadBundle(DEFAULT_MODEL);
  const m = bundle.manifest;
  // The writer before the [CLS]-only last layer, as an older bundle's model.onnx.
  const older = buildBertOnnx(m.architecture, readBertWeights(m.architecture, bundle.modelBytes), { meta: { 'livetag.model_id': m.modelId }, wholeLastLayer: true });
  const olderDir = join(root, 'older-writer');
  const { version } = await writeBundleFiles(olderDir, { ...m, parentVersion: m.version, tokenizerJson: bundle.tokenizerJson, precision: m.onnx.precision }, older);
  const out = join(root, 'older-writer-opt');
  const { base, manifest } = await optimizeBundle(olderDir, out, { texts: texts.slice(0, 200), textsSource: 'generated (test)', threads: 1, seconds: 0.1, variants: ['int8'] });
  assert.ok(base.changed && base.accepted, JSON.stringify(base));
  assert.equal(base.sameTags, 1);
  assert.ok(base.maxAbsProbDiff! <= REWRITE_MAX_PROB_DIFF, `Δp ${base.maxAbsProbDiff}`);
  assert.ok(base.baseRate! > 0 && base.rate! > 0, 'both graphs timed on CPU');
  assert.equal(manifest.parentVersion, version);
  const written = await loadBundle(out);
  assert.ok(Buffer.from(written.modelBytes).equals(Buffer.from(bundle.modelBytes)), "model.onnx is what this writer writes for the same weights");
});

test('the classifier serves the manifest choice, an explicit variant, or refuses an unknown one', async () => {
  const { serving } = await run;
  const auto = await createClassifier({ bundle: optimized, worker: false, threads: 1 });
  const int8 = await createClassifier({ bundle: optimized, worker: false, threads: 1, variant: 'int8' });
  const base = await createClassifier({ bundle: optimized, worker: false, threads: 1, variant: 'base' });
  try {
    assert.equal(auto.variant, serving.cpu);
    assert.equal(int8.variant, 'int8');
    const sample = texts.slice(0, 64);
    const [a, b] = [await int8.classify(sample), await base.classify(sample)];
    const same = a.filter((c, i) => c.tags.map((t) => t.label).join() === b[i].tags.map((t) => t.label).join()).length;
    assert.ok(same >= 63, `${same}/64 same tags`);
  } finally {
    await Promise.all([auto.stop(), int8.stop(), base.stop()]);
  }
  await assert.rejects(createClassifier({ bundle: optimized, worker: false, variant: 'int4' }), (e: unknown) => isLivetagError(e) && e.code === 'LT_CONFIG_INVALID' && /int4.*base, fused, int8, fp16/.test(e.message));
});

/** The int8 variant as an older livetag wrote it: full-range weights (one at 127), which saturate on CPUs without VNNI. */
function fullRangeInt8(bytes: Uint8Array): Uint8Array {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(bytes);
  const weight = model.graph!.initializer!.find((t) => t.dataType === onnx.TensorProto.DataType.INT8 && (t.rawData?.length ?? 0) > 0)!;
  const raw = new Uint8Array(weight.rawData!);
  raw[0] = 127;
  weight.rawData = raw;
  return onnx.ModelProto.encode(model).finish();
}

test('an int8 variant with full-range weights (an older optimize) is not served where its products saturate: model.onnx instead, with a warning', async () => {
  const { serving } = await run;
  // Asked for by name: a bundle loads only its serving variants, and under load optimize may serve another on CPU.
  const loaded = await loadBundle(optimized, { variants: ['int8'] });
  const current = loaded.variantBytes.int8;
  const variant = loaded.manifest.variants!.int8;
  const range = int8WeightRange(current);
  assert.ok(range > 0 && range <= 64, `this optimize writes 7-bit weights: ±${range}`);
  assert.equal(variant.int8WeightMax, 64, 'and says so in the manifest');
  const scanned: number[] = [];
  const bytesOf = (b: Uint8Array) => () => (scanned.push(b.byteLength), b);
  assert.equal(int8Unsafe(variant, bytesOf(current), () => true), undefined, 'a current variant serves everywhere');
  assert.deepEqual(scanned, [], 'its manifest answers without reading the graph');
  // A variant from before 7-bit weights: no range in the manifest, a weight at 127 in the graph.
  const { int8WeightMax: _absent, ...oldVariant } = variant;
  const old = fullRangeInt8(current);
  assert.equal(int8WeightRange(old), 127);
  assert.match(int8Unsafe(oldVariant, bytesOf(old), () => true) ?? '', /int8 weights span ±127.*without VNNI.*rerun `livetag optimize`/);
  assert.equal(int8Unsafe(oldVariant, bytesOf(old), () => false), undefined, 'VNNI (or ARM) runs full-range weights exactly');
  assert.equal(int8Unsafe({ ...oldVariant, precision: 'fp16' }, bytesOf(old), () => true), undefined, 'only int8 variants are checked');
  // The manifest's CPU choice is int8 on this tiny model only when optimize measured it fastest; the check applies to what auto would serve.
  const manifest = { ...loaded.manifest, serving: { ...serving, cpu: 'int8' }, variants: { ...loaded.manifest.variants, int8: oldVariant } };
  const bundle = { ...loaded, manifest, variantBytes: { ...loaded.variantBytes, int8: old } };
  const warnings: string[] = [];
  const c = await createClassifier({ bundle, worker: false, threads: 1, warn: (m) => warnings.push(m) });
  try {
    if (int8PairsSaturate()) {
      assert.equal(c.variant, 'base');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /model variant "int8" of .* is not served on CPU: its int8 weights span ±127.*serving model\.onnx/);
    } else {
      assert.equal(c.variant, 'int8', 'this CPU has VNNI: the variant serves');
      assert.deepEqual(warnings, []);
    }
    assert.equal((await c.classify(['这个多少钱'])).length, 1);
  } finally {
    await c.stop();
  }
});

test('cuda without CUDA falls back to the CPU variant, not the fp16 one, with one warning', async () => {
  await run;
  const warnings: string[] = [];
  const c = await createClassifier({ bundle: optimized, worker: true, threads: 1, device: 'cuda', warn: (m) => warnings.push(m) });
  try {
    assert.equal(c.provider, 'cpu');
    assert.notEqual(c.variant, 'fp16');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /CUDA execution provider unavailable/);
    assert.equal((await c.classify(['这个多少钱'])).length, 1);
  } finally {
    await c.stop();
  }
});

test('a variant file that does not match its hash is refused, naming the file', async () => {
  await run;
  const dir = join(root, 'corrupt');
  await cp(optimized, dir, { recursive: true });
  const file = join(dir, 'model.int8.onnx');
  const bytes = await readFile(file);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(file, bytes);
  await assert.rejects(loadBundle(dir), (e: unknown) => isLivetagError(e) && e.code === 'LT_BUNDLE_HASH_MISMATCH' && e.message.includes('model.int8.onnx'));
});

test('the manifest refuses a serving choice or variant file it does not list', async () => {
  const { manifest } = await run;
  const refuse = (m: unknown, pattern: RegExp): void =>
    assert.throws(() => parseManifest(m), (e: unknown) => isLivetagError(e) && e.code === 'LT_BUNDLE_MANIFEST_INVALID' && pattern.test(e.message));
  refuse({ ...manifest, serving: { cpu: 'int4', cuda: 'fp16' } }, /serving\.cpu: "int4" is neither/);
  const { ['model.fp16.onnx']: _gone, ...files } = manifest.files;
  refuse({ ...manifest, files }, /variants\.fp16\.file: model\.fp16\.onnx is not listed/);
});

test('a published optimized bundle keeps its variants in the registry', async () => {
  const { manifest } = await run;
  const { createModelRegistry } = await import('../../../src/model/registry/registry.ts');
  const registry = createModelRegistry(join(root, 'registry'));
  const id = await registry.publish(optimized);
  assert.equal(id, manifest.version);
  const loaded = await loadBundle(await registry.path(id), { variants: 'all' });
  assert.deepEqual(Object.keys(loaded.variantBytes).sort(), ['fp16', 'fused', 'int8']);
});
