import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, MODEL_FILE, TOKENIZER_FILE, parseManifest, refuse, sha256, type LoadedBundle, type LoadBundleOptions, type Manifest } from '../manifest.ts';
import { summarizeOnnx } from '../onnx-reader.ts';
import { parseTokenizer } from '../tokenizer.ts';
import { LivetagError } from '../../common/errors.ts';
import { deepFreeze } from '../../common/freeze.ts';

async function readOrRefuse(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (cause) {
    throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${join(dir, file)}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
}

/**
 * Loads a bundle, verifying every file's hash and that manifest, graph and
 * tokenizer agree. Throws on the first problem, naming the file; nothing
 * partially verified is returned.
 */
export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const manifestText = (await readOrRefuse(dir, MANIFEST_FILE)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(manifestText);
  } catch {
    refuse(join(dir, MANIFEST_FILE), 'is not valid JSON', 'LT_BUNDLE_MANIFEST_INVALID');
  }
  const manifest = parseManifest(raw, join(dir, MANIFEST_FILE));
  const variants = manifest.variants ?? {};
  const wanted = opts.variants === 'all' ? Object.keys(variants) : (opts.variants ?? [manifest.serving?.cpu, manifest.serving?.cuda]);
  const keep = new Set([MODEL_FILE, TOKENIZER_FILE, ...wanted.flatMap((n) => (n && variants[n] ? [variants[n].file] : []))]);
  const contents = new Map<string, Buffer>();
  for (const [file, entry] of Object.entries(manifest.files)) {
    const bytes = await readOrRefuse(dir, file);
    const actual = sha256(bytes);
    if (actual !== entry.sha256 || bytes.length !== entry.bytes) {
      refuse(join(dir, file), `sha256 ${actual.slice(0, 12)}… (${bytes.length} bytes) does not match the manifest's ${entry.sha256.slice(0, 12)}… (${entry.bytes} bytes)`, 'LT_BUNDLE_HASH_MISMATCH');
    }
    if (keep.has(file)) contents.set(file, bytes);
  }
  const variantBytes: Record<string, Uint8Array> = {};
  for (const [name, v] of Object.entries(variants)) {
    const bytes = contents.get(v.file);
    if (!bytes) continue;
    checkGraph(join(dir, v.file), manifest, bytes);
    variantBytes[name] = new Uint8Array(bytes);
  }
  const modelBytes = contents.get(MODEL_FILE)!;
  const tokenizerJson = contents.get(TOKENIZER_FILE)!.toString('utf8');
  checkGraph(join(dir, MODEL_FILE), manifest, modelBytes);
  const tokenizer = parseTokenizer(tokenizerJson);
  const vocab = tokenizer.getVocabSize(true);
  if (vocab > manifest.architecture.vocabSize) {
    refuse(join(dir, TOKENIZER_FILE), `vocabulary of ${vocab} tokens exceeds the model's ${manifest.architecture.vocabSize} embeddings`);
  }
  return deepFreeze({ dir, manifest, modelBytes: new Uint8Array(modelBytes), tokenizerJson, variantBytes });
}

/** A graph's inputs, output and label width agree with the manifest. */
function checkGraph(modelPath: string, manifest: Manifest, bytes: Uint8Array): void {
  const graph = summarizeOnnx(bytes);
  const expected = [...manifest.onnx.inputs].sort().join(',');
  if ([...graph.inputs].sort().join(',') !== expected) {
    refuse(modelPath, `graph inputs [${graph.inputs.join(', ')}] differ from the manifest's [${manifest.onnx.inputs.join(', ')}]`);
  }
  if (!graph.outputs.includes(manifest.onnx.output)) {
    refuse(modelPath, `graph has no output "${manifest.onnx.output}" (has ${graph.outputs.join(', ')})`);
  }
  if (graph.outputWidth !== manifest.labels.length) {
    refuse(modelPath, `output width ${graph.outputWidth ?? 'unknown'} does not match the manifest's ${manifest.labels.length} labels`);
  }
}
