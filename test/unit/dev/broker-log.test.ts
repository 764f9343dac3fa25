import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { START_MARK, failureReport, tail } from '../../../src/dev/broker-log.ts';
import { tempDir } from '../../helpers/shared.ts';

test('tail keeps the last lines', () => {
  assert.equal(tail('a\nb\nc\n', 2), 'b\nc');
});

test('a failure report quotes only the last run: its errors first, then its tail', () => {
  const file = join(tempDir(), 'broker.log');
  writeFileSync(file, [`${START_MARK}1 ---`, 'ERROR old run', `${START_MARK}2 ---`, 'INFO booting', 'ERROR Address already in use', 'INFO shutting down', ''].join('\n'));
  const report = failureReport(file);
  assert.ok(!report.includes('old run'));
  assert.ok(report.indexOf('Address already in use') < report.indexOf('(tail)'));
  assert.ok(report.trimEnd().endsWith('INFO shutting down'));
  assert.match(failureReport(join(tempDir(), 'absent.log')), /no broker log/);
});
