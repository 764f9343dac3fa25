/**
 * Training throughput (samples/s) on the tfjs backend this machine has:
 *
 *   node --import tsx bench/train-throughput.ts --shape small                 # default small config, all layers
 *   node --import tsx bench/train-throughput.ts --shape base --train-layers 2  # bert-base-shaped, top 2 trainable
 *
 * Texts are real comment lengths from ../shared/data/tianchi-makeup (or
 * synthetic ones of the same length profile when ../shared is absent). For a
 * frozen prefix the one-off onnxruntime pass that caches it is timed apart
 * from the training steps, and both are reported. Prints one JSON line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bertBaseConfig, flopsPerSequence, smallBertConfig } from '../src/model/bert-config.ts';
import { createTextEncoder } from '../src/model/tokenizer.ts';
import { randomWeights } from '../src/model/weights.ts';
import { createFrozenFeatures, createIdFeatures, tokenizeAll, type FeatureStore } from '../src/training/features.ts';
import { toMatrix } from '../src/training/metrics.ts';
import { resolveRecipe } from '../src/training/recipe.ts';
import { describeBackend, initTfBackend, type BackendChoice } from '../src/training/tf-backend.ts';
import { createTfEngine } from '../src/training/tf-engine.ts';
import { engineOptionsFor, train } from '../src/training/trainer.ts';
import { buildCharVocab, charVocabTokenizerJson } from '../src/training/vocab.ts';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'small' },
    'train-layers': { type: 'string' },
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '30' },
    rows: { type: 'string', default: '1024' },
    backend: { type: 'string', default: 'auto' },
    shared: { type: 'string', default: join(import.meta.dirname, '../../shared') },
  },
});

const shared = values.shared;
const dataPath = join(shared, 'data/tianchi-makeup/labeled.jsonl');
const baseTokenizer = join(shared, 'tokenizers/bert-base-chinese/tokenizer.json');
const batch = Number(values.batch);
const steps = Number(values.steps);

let rows: Array<{ text: string; labels: string[] }>;
if (existsSync(dataPath)) {
  rows = readFileSync(dataPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
} else {
  // Same length profile as the tag data: mean ~22 characters.
  const chars = '的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动';
  rows = Array.from({ length: 2000 }, (_, i) => ({
    text: Array.from({ length: 6 + ((i * 7919) % 33) }, (_, j) => chars[(i * 31 + j * 17) % chars.length]).join(''),
    labels: i % 3 === 0 ? ['a'] : ['b'],
  }));
}
rows = rows.slice(0, Number(values.rows));
const labels = [...new Set(rows.flatMap((r) => r.labels))];

const backend = await initTfBackend(values.backend as BackendChoice);
let config;
let tokenizerJson: string;
if (values.shape === 'base') {
  tokenizerJson = existsSync(baseTokenizer) ? readFileSync(baseTokenizer, 'utf8') : charVocabTokenizerJson(buildCharVocab(rows.map((r) => r.text), 1));
  config = bertBaseConfig(labels.length, createTextEncoder(tokenizerJson, 8).vocabSize);
} else {
  tokenizerJson = charVocabTokenizerJson(buildCharVocab(rows.map((r) => r.text)));
  config = smallBertConfig(createTextEncoder(tokenizerJson, 8).vocabSize, labels.length);
}
const trainLayers = values['train-layers'] ? Number(values['train-layers']) : config.numLayers;
const frozen = config.numLayers - trainLayers;
const maxLength = 128;
const ids = await tokenizeAll(createTextEncoder(tokenizerJson, maxLength), rows.map((r) => r.text));
const meanTokens = ids.reduce((s, r) => s + r.length, 0) / ids.length;
const weights = randomWeights(config, 1);

let features: FeatureStore;
let cacheSeconds = 0;
if (frozen > 0) {
  const t0 = performance.now();
  features = await createFrozenFeatures(config, weights, frozen, ids);
  cacheSeconds = (performance.now() - t0) / 1000;
} else features = createIdFeatures(ids);

const recipe = resolveRecipe('livetag', 'pretrained', frozen, { batchSize: batch, maxEpochs: 1000 });
const all = [...ids.keys()];
const targets = toMatrix(rows.map((r) => r.labels), labels);
const engine = await createTfEngine({ ...engineOptionsFor({ config, weights, frozenLayers: frozen, features, recipe, targets, trainRows: all }), backend });
// A few warm-up steps first (wasm compiles kernels and grows its heap on first use).
await train({ engine, features, labels, targets, trainRows: all, valRows: [], recipe, seed: 1, fingerprint: 'bench', quiet: true, maxSteps: 3, skipValidation: true });
const result = await train({
  engine,
  features,
  labels,
  targets,
  trainRows: all,
  valRows: [],
  recipe,
  seed: 2,
  fingerprint: 'bench',
  quiet: true,
  maxSteps: steps,
  skipValidation: true,
});
const trainedFlops = flopsPerSequence({ ...config, numLayers: trainLayers }, meanTokens) * 3;
const out = {
  backend: describeBackend(backend).split(';')[0],
  shape: values.shape,
  layers: config.numLayers,
  hidden: config.hiddenSize,
  vocab: config.vocabSize,
  trainLayers,
  batch,
  steps: result.steps,
  meanTokens: Number(meanTokens.toFixed(1)),
  trainSamplesPerSecond: Number(result.samplesPerSecond.toFixed(2)),
  approxTrainGflops: Number(((trainedFlops * result.samplesPerSecond) / 1e9).toFixed(2)),
  ...(frozen > 0
    ? {
        frozenLayers: frozen,
        cacheRows: ids.length,
        cacheSeconds: Number(cacheSeconds.toFixed(1)),
        cacheSamplesPerSecond: Number((ids.length / cacheSeconds).toFixed(1)),
      }
    : {}),
};
await engine.dispose();
process.stdout.write(JSON.stringify(out) + '\n');
