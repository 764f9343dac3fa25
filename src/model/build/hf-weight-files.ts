import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists } from '../../common/fs.ts';
import { importError, type CheckpointTensor } from './checkpoint-tensor.ts';
import { readPytorchCheckpoint } from './pytorch-checkpoint.ts';
import { readSafetensorsTensors } from './safetensors.ts';

/** Where a checkpoint keeps its weights, in the order Hugging Face's from_pretrained prefers them. */
const LAYOUTS = [
  { file: 'model.safetensors', sharded: false, read: readSafetensorsTensors },
  { file: 'model.safetensors.index.json', sharded: true, read: readSafetensorsTensors },
  { file: 'pytorch_model.bin', sharded: false, read: readPytorchCheckpoint },
  { file: 'pytorch_model.bin.index.json', sharded: true, read: readPytorchCheckpoint },
] as const;

export interface WeightFiles {
  /** The file read, or the index whose shards were read. */
  readonly source: string;
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
}

export async function readWeightFiles(dir: string): Promise<WeightFiles> {
  for (const layout of LAYOUTS) {
    const path = join(dir, layout.file);
    if (!(await pathExists(path))) continue;
    const tensors = new Map<string, CheckpointTensor>();
    const files = layout.sharded ? await shardFiles(path) : { [layout.file]: [] };
    for (const [file, names] of Object.entries(files)) {
      const got = await layout.read(join(dir, file));
      for (const t of got) {
        if (tensors.has(t.name)) importError(`${file}: tensor ${t.name} appears in two shards`);
        tensors.set(t.name, t);
      }
      const have = new Set(got.map((t) => t.name));
      const lost = names.filter((n) => !have.has(n));
      if (lost.length > 0) importError(`${layout.file} places ${lost.slice(0, 5).join(', ')} in ${file}, which does not hold ${lost.length === 1 ? 'it' : 'them'}`);
    }
    return { source: layout.file, tensors };
  }
  return importError(`${dir}: no weights found (looked for ${LAYOUTS.map((l) => l.file).join(', ')})`);
}

/** The shards an index names, each with the tensors it should hold; shard names must be plain file names in the same folder. */
async function shardFiles(indexPath: string): Promise<Record<string, string[]>> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (cause) {
    return importError(`${indexPath}: ${(cause as Error).message}`);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return importError(`${indexPath}: no weight_map object`);
  const files: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || !/^[\w.-]+$/.test(file) || file.startsWith('.')) {
      return importError(`${indexPath}: shard ${JSON.stringify(file)} of ${name} is not a plain file name beside the index`);
    }
    (files[file] ??= []).push(name);
  }
  if (Object.keys(files).length === 0) importError(`${indexPath}: weight_map is empty`);
  return files;
}
