/**
 * Rebuilds the committed default model (models/default) from the project's own
 * generated data, reproducibly:
 *
 *   node --import tsx scripts/build-default-model.ts      (about 10 minutes on 2 cores)
 *
 * 5000 comments from `livetag generate --seed 2026`, the default small
 * architecture trained from scratch with the livetag recipe; the manifest
 * records that it was trained and evaluated on generated comments only.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LABELS } from '../src/model/labels.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORK = join(ROOT, '.cache/default-model');
const DATA = join(WORK, 'generated-seed2026-n5000.jsonl');
const RUN = join(WORK, 'run');
const OUT = join(ROOT, 'models/default');
const livetag = (args: string[], stdout?: string): void => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/livetag.js'), ...args], { stdio: ['ignore', stdout ? 'pipe' : 'inherit', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`livetag ${args[0]} exited ${r.status}`);
  if (stdout) writeFileSync(stdout, r.stdout);
};

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
livetag(['generate', '--count', '5000', '--seed', '2026'], DATA);
livetag(['train', '--data', DATA, '--labels', DEFAULT_LABELS.join(','), '--model-id', 'livetag-default', '--no-resume', '--out', RUN]);
rmSync(OUT, { recursive: true, force: true });
cpSync(join(RUN, 'bundle'), OUT, { recursive: true });
cpSync(join(RUN, 'report/report.md'), join(OUT, 'TRAINING-REPORT.md'));
console.log(`wrote ${OUT}`);
