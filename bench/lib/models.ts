import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeRandomBundle, type ModelShape } from '../../src/model/build/random-bundle.ts';
import { DEFAULT_LABELS } from '../../src/model/labels.ts';
import { REPO_ROOT, sharedTokenizer } from './texts.ts';

/**
 * A random-weight bundle at a shape, cached in the git-ignored .cache/models.
 * 'base' uses the real bert-base-chinese tokenizer when ../shared has it.
 */
export async function benchModel(shape: ModelShape): Promise<string> {
  const dir = resolve(REPO_ROOT, '.cache/models', `random-${shape}`);
  if (!existsSync(resolve(dir, 'manifest.json'))) {
    process.stderr.write(`generating ${shape}-shaped random model in ${dir} …\n`);
    await writeRandomBundle(dir, { shape, tokenizerPath: sharedTokenizer(), maxLength: 128 });
  }
  return dir;
}

/** How the suite's trained bert-base-shaped model is made; the cache is keyed by it, so a change retrains. */
export const TRAINED_BASE_RECIPE = Object.freeze({ generated: 4000, seed: 2026, epochs: 4, lr: 3e-5 });

/**
 * A bert-base-chinese-shaped bundle trained from scratch by `livetag train` on
 * generated live-commerce comments (the default model's kind of data), cached in
 * .cache/models. Random weights put every probability within ~0.01 of its
 * threshold, so any variant flips tags there and the suite's "default variant"
 * would be decided by an artefact no user's model has; a trained model's
 * outputs are spread like a real one's. Its quality is beside the point
 * (the suite measures speed), its report says what it is. About 5 minutes
 * the first time on 2 cores.
 */
export function trainedBaseModel(): string {
  const r = TRAINED_BASE_RECIPE;
  const root = resolve(REPO_ROOT, '.cache/models', `trained-base-n${r.generated}-s${r.seed}-e${r.epochs}-lr${r.lr}${sharedTokenizer() ? '' : '-charvocab'}`);
  const bundle = resolve(root, 'run/bundle');
  if (existsSync(resolve(bundle, 'manifest.json'))) return bundle;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  process.stderr.write(`training the bert-base-shaped bench model in ${root} (once; ~5 min) …\n`);
  const cli = resolve(REPO_ROOT, 'bin/livetag.js');
  const data = resolve(root, 'generated.jsonl');
  writeFileSync(data, execFileSync(process.execPath, [cli, 'generate', '--count', String(r.generated), '--seed', String(r.seed)], { maxBuffer: 1 << 28 }));
  const tokenizer = sharedTokenizer();
  // bert-base-chinese's sizes; --ngram 0 because speed comparisons use the plain BERT graph.
  const args = ['train', '--data', data, '--labels', DEFAULT_LABELS.join(','), '--hidden', '768', '--layers', '12', '--heads', '12', '--intermediate', '3072'];
  args.push('--ngram', '0', '--epochs', String(r.epochs), '--patience', '0', '--lr', String(r.lr), '--max-length', '128', '--model-id', 'bench-bert-base-trained', '--no-resume', '--quiet', '--out', resolve(root, 'run'));
  if (tokenizer) args.push('--tokenizer', tokenizer);
  execFileSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return bundle;
}
