/**
 * values.schema.json's `config`: generated from SETTINGS by
 * scripts/update-helm-schema.ts, so `helm lint` / `helm template` refuse a
 * setting name the service does not read (a typo would otherwise reach the
 * ConfigMap and be ignored) and a bad enum or boolean value, naming it, while
 * every real setting still renders and parses.
 *
 * The helm tests skip without Go, saying so (as test/unit/helm/chart.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { z } from 'zod';
import { settingBool, settingInt } from '../../../src/common/env-settings.ts';
import { SETTINGS, loadServeConfig } from '../../../src/consumer/config.ts';
import { chartToolingOrSkip, helmLint, helmTemplate, helmTemplateError, type ChartTooling } from '../../../scripts/ensure-helm.ts';
import { SCHEMA_FILE, renderHelmSchema, valueSchema } from '../../../scripts/update-helm-schema.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

type Doc = Record<string, any>;

const schemaText = (): string => readFileSync(SCHEMA_FILE, 'utf8');

describe('values.schema.json config is generated from SETTINGS', () => {
  test('the committed schema is the generated one', () => {
    const text = schemaText();
    assert.equal(text, renderHelmSchema(text), 'run: node --import tsx scripts/update-helm-schema.ts');
    const config = JSON.parse(text).properties.config;
    assert.deepEqual(Object.keys(config.properties), Object.keys(SETTINGS));
    assert.equal(config.additionalProperties, false);
  });

  test('scripts/update-helm-schema.ts --check passes on it', async () => {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/update-helm-schema.ts', '--check'], { cwd: REPO_ROOT });
  });

  test('a setting added to the code, or one renamed in the file, makes the file stale', () => {
    const text = schemaText();
    const added = renderHelmSchema(text, { ...SETTINGS, LIVETAG_NEW_SETTING: { schema: z.string(), default: undefined, doc: 'x' } });
    assert.notEqual(added, text);
    assert.match(added, /"LIVETAG_NEW_SETTING"/);
    const renamed = text.replace('"LIVETAG_BATCH_MAX_SIZE":', '"LIVETAG_BATCH_MAX_SZIE":');
    assert.notEqual(renamed, text);
    assert.equal(renderHelmSchema(renamed), text, 'regenerating restores the code\'s names');
  });

  test('values: enums and booleans as the service accepts them (blank = unset), anything renderable otherwise', () => {
    assert.deepEqual(valueSchema(z.enum(['a', 'b'])), { enum: ['', 'a', 'b'] });
    const bool = (valueSchema(settingBool) as { enum: unknown[] }).enum;
    assert.deepEqual(new Set(bool), new Set(['', 'true', 'false', '1', '0', 'yes', 'no', true, false, 1, 0]));
    const any = { type: ['string', 'number', 'boolean'] };
    assert.deepEqual(valueSchema(settingInt(1)), any);
    assert.deepEqual(valueSchema(z.union([z.literal('auto'), settingInt(1)])), any);
    assert.deepEqual(valueSchema(z.string().min(1).optional()), any);
  });
});

const { tooling, skip: skipReason } = await chartToolingOrSkip();
const tools = (): ChartTooling => tooling!;

describe('helm refuses unknown config names and bad enum values', { skip: skipReason ?? false }, () => {
  test('helm lint --strict: a misspelled setting fails, naming it', async () => {
    const values = join(tempDir(), 'typo.yaml');
    writeFileSync(values, 'config:\n  LIVETAG_BATCH_MAX_SZIE: "64"\n');
    const r = await helmLint(tools(), [values]);
    assert.notEqual(r.code, 0, `helm lint passed:\n${r.stdout}`);
    assert.match(r.stdout + r.stderr, /at '\/config': additional properties 'LIVETAG_BATCH_MAX_SZIE' not allowed/);
  });

  test('helm template: a misspelled setting or a value outside its enum fails, naming it', async () => {
    assert.match(await helmTemplateError(tools(), ['config.LIVETAG_BATCH_MAX_SZIE=64']), /additional properties 'LIVETAG_BATCH_MAX_SZIE' not allowed/);
    assert.match(await helmTemplateError(tools(), ['config.LIVETAG_LOG_LEVEL=verbose']), /at '\/config\/LIVETAG_LOG_LEVEL': value must be one of '', 'debug', 'info', 'warn', 'error'/);
  });

  test('valid settings render into the ConfigMap and parse as the service reads them', async () => {
    const values = join(tempDir(), 'valid.yaml');
    // yes: YAML's true (rendered "true"); "" = the service's default.
    writeFileSync(values, 'config:\n  LIVETAG_ALL_SCORES: yes\n  LIVETAG_DELIVERY: ""\n');
    const { docs } = await helmTemplate(tools(), { valuesFiles: [values], set: ['config.LIVETAG_BATCH_MAX_SIZE=128', 'config.LIVETAG_LOG_LEVEL=debug', 'config.LIVETAG_HTTP_INFERENCE=false'] });
    const data = (docs as Doc[]).find((d) => d.kind === 'ConfigMap' && d.data?.LIVETAG_KAFKA_BROKERS)?.data as Record<string, string>;
    assert.ok(data, 'no serve ConfigMap rendered');
    assert.equal(data.LIVETAG_BATCH_MAX_SIZE, '128');
    assert.equal(data.LIVETAG_ALL_SCORES, 'true');
    const config = loadServeConfig({}, data);
    assert.equal(config.batch.maxSize, 128);
    assert.equal(config.allScores, true);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.delivery, 'at-least-once');
    assert.equal(config.httpInference, undefined);
  });
});
