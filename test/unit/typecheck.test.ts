/**
 * The whole project (src, test, bench, scripts: tsconfig.json's include)
 * type-checks under `strict`. tsx strips types without checking them, so
 * without this a type error would pass every other test.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/shared.ts';

test('tsconfig.json type-checks with no errors (what `npx tsc --noEmit -p .` says)', () => {
  const configPath = join(REPO_ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  assert.equal(read.error, undefined, read.error && ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO_ROOT, { noEmit: true }, configPath);
  assert.equal(parsed.options.strict, true, 'strict is on');
  assert.ok(parsed.fileNames.some((f) => f.includes('/src/')) && parsed.fileNames.some((f) => f.includes('/bench/')), 'src and bench are both checked');
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
  const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)];
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => REPO_ROOT, getNewLine: () => '\n' };
  assert.equal(diagnostics.length, 0, ts.formatDiagnostics(diagnostics.slice(0, 20), host));
});
