import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { parseCommandArgs } from '../../../src/cli/options.ts';
import { pretrainSpec } from '../../../src/cli/specs/pretrain.ts';
import { trainSpec } from '../../../src/cli/specs/train.ts';
import { isLivetagError } from '../../../src/common/errors.ts';
import { captureOutput, tempDir } from '../../helpers/shared.ts';

test('pretrain --text-field: /text unless told, else serve\'s LIVETAG_INPUT_TEXT_FIELD (the CronJob sets it); a bad pointer is a usage error before any connection', async () => {
  const field = () => parseCommandArgs(pretrainSpec, ['--out', 'x', '--topic', 't']).values['text-field'];
  const saved = process.env.LIVETAG_INPUT_TEXT_FIELD;
  try {
    delete process.env.LIVETAG_INPUT_TEXT_FIELD;
    assert.equal(field(), '/text');
    process.env.LIVETAG_INPUT_TEXT_FIELD = '/payload/msg/text';
    assert.equal(field(), '/payload/msg/text');
  } finally {
    if (saved === undefined) delete process.env.LIVETAG_INPUT_TEXT_FIELD;
    else process.env.LIVETAG_INPUT_TEXT_FIELD = saved;
  }
  // Port 9 on loopback: nothing listens, so reaching Kafka would fail differently (and slowly).
  const r = await captureOutput(() => main(['pretrain', '--topic', 't', '--kafka-brokers', '127.0.0.1:9', '--text-field', 'payload.text', '--out', join(tempDir(), 'pre')]));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--text-field "payload\.text": not a JSON Pointer/);
});

test('--max-length below 3 is refused: [CLS] and [SEP] alone leave no token to mask or classify', () => {
  const parsers = { pretrain: (argv: string[]) => parseCommandArgs(pretrainSpec, argv).values['max-length'], train: (argv: string[]) => parseCommandArgs(trainSpec, argv).values['max-length'] };
  for (const [name, maxLength] of Object.entries(parsers)) {
    assert.throws(() => maxLength(['--out', 'x', '--max-length', '2']), (err: unknown) => isLivetagError(err, 'LT_USAGE') && /--max-length 2: must be ≥ 3/.test((err as Error).message), name);
    assert.equal(maxLength(['--out', 'x', '--max-length', '3']), 3);
  }
});
