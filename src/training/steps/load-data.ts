/**
 * Step: load data. The previous training set (beside the base bundle), every
 * new record the sources have now, and the model the run starts from.
 */
import { join, resolve } from 'node:path';
import { LivetagError } from '../../common/errors.ts';
import { pathExists } from '../../common/fs.ts';
import type { LoadedBundle } from '../../model/manifest.ts';
import { loadBundle } from '../../model/runtime/load-bundle.ts';
import type { RawRecord } from '../data.ts';
import { collect, createFileLabelSource, type LabelSource } from '../label-source.ts';
import { BUNDLE_DIR, resolveBaseRun, type BaseRun } from '../run-dir.ts';

export type InitModel =
  | { readonly kind: 'scratch' }
  | { readonly kind: 'bundle'; readonly dir: string; readonly bundle: LoadedBundle }
  | { readonly kind: 'hf'; readonly dir: string };

export interface LoadDataInput {
  /** Started, read to their end; the caller stops them. */
  readonly sources: readonly LabelSource[];
  readonly base?: string;
  readonly init?: string;
  readonly tokenizer?: string;
}

export interface LoadedData {
  readonly base?: BaseRun;
  /** The champion: the base run's bundle. */
  readonly baseBundle?: LoadedBundle;
  readonly fresh: readonly RawRecord[];
  readonly init: InitModel;
}

/** JSONL paths as one source, then the extra ones (Kafka), in the order their records are merged. */
export function labelSources(data: readonly string[], extra: readonly LabelSource[] = []): LabelSource[] {
  return [...(data.length > 0 ? [createFileLabelSource(data)] : []), ...extra];
}

export async function resolveInit(init: string | undefined): Promise<InitModel> {
  if (!init || init === 'scratch') return { kind: 'scratch' };
  const dir = resolve(init);
  if (await pathExists(join(dir, 'manifest.json'))) return { kind: 'bundle', dir, bundle: await loadBundle(dir) };
  if (await pathExists(join(dir, BUNDLE_DIR, 'manifest.json'))) return { kind: 'bundle', dir: join(dir, BUNDLE_DIR), bundle: await loadBundle(join(dir, BUNDLE_DIR)) };
  if (await pathExists(join(dir, 'config.json'))) return { kind: 'hf', dir };
  throw new LivetagError('LT_CONFIG_INVALID', `--init ${init}: not "scratch", a bundle (manifest.json) or a Hugging Face checkpoint (config.json)`);
}

export async function loadData(input: LoadDataInput, log: (line: string) => void): Promise<LoadedData> {
  const base = input.base ? await resolveBaseRun(input.base) : undefined;
  const baseBundle = base ? await loadBundle(base.bundleDir) : undefined;
  const fresh: RawRecord[] = [];
  for (const s of input.sources) {
    await s.start();
    fresh.push(...(await collect(s)));
  }
  if (base) log(`base ${base.bundleDir}: ${base.previous.length} previous rows${base.splits ? ', pinned splits' : ' (no splits.json: nothing pinned)'}`);
  const init = await resolveInit(input.init);
  if (input.tokenizer && init.kind !== 'scratch') {
    throw new LivetagError('LT_CONFIG_INVALID', '--tokenizer applies to --init scratch only: an initial model brings its own tokenizer');
  }
  return { ...(base ? { base } : {}), ...(baseBundle ? { baseBundle } : {}), fresh, init };
}
