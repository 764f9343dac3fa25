/**
 * Where new labeled rows come from. A source is read once per run and
 * committed only after the run succeeded, so a failed run re-reads the same
 * rows next time instead of losing them.
 */
import type { RawRecord } from './data.ts';
import { listDataFiles, readJsonlRecords } from './data-files.ts';

export interface LabelSource {
  readonly name: string;
  start(): Promise<void>;
  /** Every record available now; ends when the source is read to its end. */
  records(): AsyncIterable<RawRecord>;
  /** Marks what records() returned as consumed. Only called after a successful run. */
  commit(): Promise<void>;
  stop(): Promise<void>;
}

/** JSONL files and directories of them; nothing to commit. */
export function createFileLabelSource(paths: readonly string[]): LabelSource {
  return {
    name: `files:${paths.join(',')}`,
    async start() {},
    async *records() {
      for (const path of paths) {
        for (const file of await listDataFiles(path)) yield* readJsonlRecords(file);
      }
    },
    async commit() {},
    async stop() {},
  };
}

export async function collect(source: LabelSource): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of source.records()) out.push(r);
  return out;
}
