/**
 * How the update-* scripts treat the file they generate: `--check` fails
 * naming the command that brings it up to date; otherwise the file is written
 * when it changed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Whether the module at `url` is the script node was asked to run. By path, not by URL text: a checkout path with spaces or a link would otherwise skip a --check silently. */
export function isMainModule(url: string): boolean {
  return Boolean(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(url);
}

export function updateGeneratedFile(file: string, render: (current: string) => string, script: string): void {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const next = render(current);
  if (next === current) return;
  if (process.argv.includes('--check')) {
    console.error(`${relative(ROOT, file)} is out of date: run node --import tsx ${relative(ROOT, script)}`);
    process.exit(1);
  }
  writeFileSync(file, next);
}
