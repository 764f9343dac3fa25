/**
 * The livetag recipe against the user's (`--recipe seed`) on the same
 * architecture and split: both `livetag train` runs side by side (each is
 * single-threaded on wasm), then `livetag eval` of both bundles on the same
 * test rows. Prints the two metric tables and wall times as JSON.
 *
 *   node --import tsx bench/train-recipes.ts [--data ../shared/data/tianchi-makeup/labeled.jsonl] [--out tmp/recipes] [-- extra train flags]
 *
 * The data is read in place; runs go under --out (git-ignored tmp/ by default).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: resolve(root, '../shared/data/tianchi-makeup/labeled.jsonl') },
    out: { type: 'string', default: join(root, 'tmp/recipes') },
  },
});

function livetag(args: string[], log?: string): Promise<{ code: number; stdout: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'bin/livetag.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => log && process.stderr.write(`[${log}] ${d}`));
    child.once('error', fail);
    child.once('exit', (code) => done({ code: code ?? 1, stdout, seconds: (Date.now() - t0) / 1000 }));
  });
}

const recipes = ['livetag', 'seed'] as const;
const runs = await Promise.all(
  recipes.map((r) => livetag(['train', '--data', values.data, '--recipe', r, '--out', join(values.out, r), '--quiet', ...positionals], r)),
);
const result: Record<string, unknown> = {};
for (const [i, r] of recipes.entries()) {
  if (runs[i].code !== 0) throw new Error(`${r} run failed with exit code ${runs[i].code}`);
  const dir = join(values.out, r);
  const evaluated = await livetag(['eval', '--model', join(dir, 'bundle'), '--data', join(dir, 'test.jsonl')]);
  const report = JSON.parse(readFileSync(join(dir, 'report/report.json'), 'utf8')) as { history: unknown[]; keptEpoch: number };
  result[r] = { wallSeconds: runs[i].seconds, epochs: report.history.length, keptEpoch: report.keptEpoch, test: JSON.parse(evaluated.stdout) };
}
const same = readFileSync(join(values.out, 'livetag/test.jsonl'), 'utf8') === readFileSync(join(values.out, 'seed/test.jsonl'), 'utf8');
process.stdout.write(JSON.stringify({ sameTestRows: same, ...result }, null, 2) + '\n');
