/**
 * The whole chaos matrix of issue 17: 4 faults x 2 delivery modes x 2 Kafka
 * adapters, each a `livetag serve` run on a broker of its own with a fault
 * injected mid-stream (test/integration/reliability/chaos.test.ts with
 * LIVETAG_CHAOS_FULL=1; CI runs only a subset of it). Writes the lost /
 * duplicated counts of every combination to bench/results/chaos.{json,md}.
 *
 *   node --import tsx bench/chaos.ts        # about 20 minutes on 2 cores
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = path.join(ROOT, 'bench', 'results');

type Row = { fault: string; delivery: string; adapter: string; input?: number; tagged?: number; lost?: number; duplicates?: number; seconds?: number; faultAt?: number; lingered?: number; error?: string };

const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/run-tests.ts', 'test/integration/reliability/chaos.test.ts'], {
  cwd: ROOT,
  env: { ...process.env, LIVETAG_CHAOS_FULL: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (d: Buffer) => {
  output += d.toString();
  process.stdout.write(d);
});
const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

const rows: Row[] = [...output.matchAll(/CHAOS (\{.*\})/g)].map((m) => JSON.parse(m[1]!) as Row);
const failed = rows.filter((r) => r.error);
fs.mkdirSync(RESULTS, { recursive: true });
fs.writeFileSync(path.join(RESULTS, 'chaos.json'), JSON.stringify({ at: new Date().toISOString(), rows, failed }, null, 2) + '\n');
const md = [
  '# Chaos matrix (bench/chaos.ts)',
  '',
  '`livetag serve` on a local broker, 3,000 records at a steady pace, the fault a third of the way in. Lost: input offsets without output; duplicates: extra outputs for one input offset, as a read_committed reader sees them.',
  '',
  '| fault | delivery | adapter | input | lost | duplicates | fault at s | run s | lingered after stop |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) =>
    r.error
      ? `| ${r.fault} | ${r.delivery} | ${r.adapter} | failed: ${r.error.replace(/\|/g, '/')} | | | | | |`
      : `| ${r.fault} | ${r.delivery} | ${r.adapter} | ${r.input} | ${r.lost} | ${r.duplicates} | ${r.faultAt!.toFixed(1)} | ${r.seconds!.toFixed(0)} | ${r.lingered ?? 0} |`,
  ),
  '',
  failed.length ? `${failed.length} of ${rows.length} combinations failed (the assertion or the run itself; see the test output).` : `All ${rows.length} combinations passed.`,
  '',
].join('\n');
fs.writeFileSync(path.join(RESULTS, 'chaos.md'), md);
console.log(`\nwrote bench/results/chaos.md (${rows.length} rows, ${failed.length} failed)`);
process.exit(code ?? 1);
