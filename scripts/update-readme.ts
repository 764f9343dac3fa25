/**
 * Regenerates the README's generated blocks (the configuration table) from
 * their sources, so documentation cannot drift from the schema.
 *
 *   node --import tsx scripts/update-readme.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderHeadline, type SuiteOutput } from '../bench/lib/suite-report.ts';
import { configReference } from '../src/consumer/config.ts';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const SUITE = fileURLToPath(new URL('../bench/results/suite.json', import.meta.url));

/** The configuration table from the schema; the performance block from the latest committed suite run. */
export function renderReadme(text: string): string {
  const suite = JSON.parse(readFileSync(SUITE, 'utf8')) as SuiteOutput;
  return text
    .replace(/<!-- config:start -->[\s\S]*?<!-- config:end -->/, `<!-- config:start -->\n${configReference()}\n<!-- config:end -->`)
    .replace(/<!-- perf:start -->[\s\S]*?<!-- perf:end -->/, `<!-- perf:start -->\n${renderHeadline(suite)}\n<!-- perf:end -->`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const current = readFileSync(README, 'utf8');
  const next = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('README.md is out of date: run node --import tsx scripts/update-readme.ts');
      process.exit(1);
    }
  } else writeFileSync(README, next);
}
