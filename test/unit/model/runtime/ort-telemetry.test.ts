import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

/** ORT_DISABLE_TELEMETRY as onnxruntime sees it once a livetag module has started a session, in a fresh process. */
function seenByOnnxruntime(preset: string | undefined): string {
  const env = { ...process.env };
  delete env.ORT_DISABLE_TELEMETRY;
  if (preset !== undefined) env.ORT_DISABLE_TELEMETRY = preset;
  const script = `
    const { createGraphSession } = await import(${JSON.stringify(new URL('../../../../src/model/runtime/graph-session.ts', import.meta.url).pathname)});
    const { buildBertOnnx } = await import(${JSON.stringify(new URL('../../../../src/model/build/onnx-graph.ts', import.meta.url).pathname)});
    const { parseBertConfig } = await import(${JSON.stringify(new URL('../../../../src/model/bert-config.ts', import.meta.url).pathname)});
    const { randomWeights } = await import(${JSON.stringify(new URL('../../../../src/model/weights.ts', import.meta.url).pathname)});
    const config = parseBertConfig({ vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8, typeVocabSize: 2, numLabels: 2, layerNormEps: 1e-12 });
    const session = await createGraphSession(buildBertOnnx(config, randomWeights(config, 1)), { threads: 1 });
    await session.release();
    process.stdout.write(String(process.env.ORT_DISABLE_TELEMETRY));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('onnxruntime telemetry is off unless the deployment chose: unset becomes 1 before the first session, an explicit 0 or 1 is kept', () => {
  assert.equal(seenByOnnxruntime(undefined), '1');
  assert.equal(seenByOnnxruntime('0'), '0');
  assert.equal(seenByOnnxruntime('1'), '1');
});
