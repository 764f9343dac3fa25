import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeRandomBundle, type ModelShape } from '../../src/model/build/random-bundle.ts';
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
