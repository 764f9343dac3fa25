import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import {
  MANIFEST_FILE,
  MAX_BUNDLE_BYTES,
  MODEL_FILE,
  TOKENIZER_FILE,
  maxBytesOf,
  parseManifest,
  refuse,
  sha256,
  type LoadedBundle,
  type LoadBundleOptions,
  type Manifest,
} from '../manifest.ts';
import { summarizeOnnx } from '../onnx-reader.ts';
import { parseTokenizer } from '../tokenizer.ts';
import { LivetagError } from '../../common/errors.ts';
import { deepFreeze } from '../../common/freeze.ts';

/**
 * Reads one bundle file, refusing before any allocation what could hurt: a
 * name or symlink that leads out of the bundle directory, something that is
 * not a regular file, a size over the cap or other than the manifest says.
 */
async function readOrRefuse(dir: string, file: string, limit: { maxBytes: number; expectedBytes?: number }): Promise<Buffer> {
  const path = join(dir, file);
  let real: string;
  try {
    real = await realpath(path);
    const inside = relative(await realpath(dir), real);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) refuse(path, 'leads outside the bundle directory (a symlink or "..")', 'LT_BUNDLE_MANIFEST_INVALID');
  } catch (cause) {
    if (cause instanceof LivetagError) throw cause;
    throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${path}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
  // Non-blocking: a FIFO in a bundle's place would otherwise hang open() for good (regular files ignore the flag).
  const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK).catch((cause: NodeJS.ErrnoException) => {
    throw new LivetagError('LT_BUNDLE_MISSING_FILE', `${path}: cannot be read (${cause.code ?? 'error'})`, { cause });
  });
  try {
    const { size, isFile } = await fh.stat().then((st) => ({ size: st.size, isFile: st.isFile() }));
    if (!isFile) refuse(path, 'is not a regular file', 'LT_BUNDLE_MISSING_FILE');
    if (size > limit.maxBytes) refuse(path, `is ${size} bytes, over the ${limit.maxBytes}-byte cap for this file`, 'LT_BUNDLE_MANIFEST_INVALID');
    if (limit.expectedBytes !== undefined && size !== limit.expectedBytes) {
      refuse(path, `is ${size} bytes, the manifest says ${limit.expectedBytes}`, 'LT_BUNDLE_HASH_MISMATCH');
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * Loads a bundle, verifying every file's hash and that manifest, graph and
 * tokenizer agree. Throws on the first problem, naming the file; nothing
 * partially verified is returned.
 */
export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const manifestText = (await readOrRefuse(dir, MANIFEST_FILE, { maxBytes: MAX_BUNDLE_BYTES.manifest })).toString('utf8');
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
    if (entry.bytes > maxBytesOf(file)) refuse(join(dir, MANIFEST_FILE), `${file} is listed at ${entry.bytes} bytes, over its ${maxBytesOf(file)}-byte cap`, 'LT_BUNDLE_MANIFEST_INVALID');
    const bytes = await readOrRefuse(dir, file, { maxBytes: maxBytesOf(file), expectedBytes: entry.bytes });
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
  // Trusted, a larger maxPositions lets the tokenizer pass sequences the graph fails on, each failing its whole batch.
  if (graph.positions !== undefined && graph.positions !== manifest.architecture.maxPositions) {
    refuse(modelPath, `position table of ${graph.positions} rows differs from the manifest's architecture.maxPositions ${manifest.architecture.maxPositions}`);
  }
}
