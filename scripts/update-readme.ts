/**
 * Regenerates the README's generated blocks (the CLI table, the configuration
 * table, the performance block) from their sources, so documentation cannot
 * drift from the command declarations, the schema or the committed results.
 *
 *   node --import tsx scripts/update-readme.ts [--check]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderHeadline, type SuiteOutput } from '../bench/lib/suite-report.ts';
import { COMMANDS } from '../src/cli/command-table.ts';
import { renderUsage } from '../src/cli/help.ts';
import type { CommandSpec } from '../src/cli/options.ts';
import { MODEL_FORMS, MODEL_VALUE } from '../src/cli/specs/model-option.ts';
import { configReference } from '../src/consumer/config.ts';
import { isMainModule, updateGeneratedFile } from './generated-file.ts';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const SUITE = fileURLToPath(new URL('../bench/results/suite.json', import.meta.url));

const cell = (s: string): string => s.replaceAll('|', '\\|');

/** One row per command, from the declarations `livetag <command> --help` also renders. */
export function renderCliTable(specs: readonly CommandSpec[] = COMMANDS.map((c) => c.spec)): string {
  return [
    '| command | what it does | options |',
    '|---|---|---|',
    ...specs.map((s) => `| \`${cell(renderUsage(s))}\` | ${cell(s.summary)} | ${Object.keys(s.options).map((o) => `\`--${o}\``).join(' ') || '–'} |`),
    '',
    `${MODEL_VALUE} is ${MODEL_FORMS}. Every option, with its default: \`livetag <command> --help\`.`,
  ].join('\n');
}

/** The CLI table from the command declarations; the configuration table from the schema; the performance block from the latest committed suite run. */
export function renderReadme(text: string): string {
  const suite = JSON.parse(readFileSync(SUITE, 'utf8')) as SuiteOutput;
  return text
    .replace(/<!-- cli:start -->[\s\S]*?<!-- cli:end -->/, `<!-- cli:start -->\n${renderCliTable()}\n<!-- cli:end -->`)
    .replace(/<!-- config:start -->[\s\S]*?<!-- config:end -->/, `<!-- config:start -->\n${configReference()}\n<!-- config:end -->`)
    .replace(/<!-- perf:start -->[\s\S]*?<!-- perf:end -->/, `<!-- perf:start -->\n${renderHeadline(suite)}\n<!-- perf:end -->`);
}

if (isMainModule(import.meta.url)) updateGeneratedFile(README, renderReadme, fileURLToPath(import.meta.url));
