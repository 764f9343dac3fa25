import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLivetagError } from '../../../src/common/errors.ts';
import { between, defineCommand, nonNegative, parseCommandArgs, positive, ratio, type OptionValues } from '../../../src/cli/options.ts';

const spec = defineCommand({
  name: 'try',
  summary: 'exercise every option type',
  positionals: [
    { name: 'action', required: true, choices: ['go', 'stop'], help: 'what to do' },
    { name: 'file', help: 'input' },
  ],
  options: {
    model: { type: 'string', required: true, short: 'm', help: 'the model' },
    format: { type: 'string', default: 'jsonl', choices: ['jsonl', 'table'], help: 'output' },
    registry: { type: 'string', env: 'LIVETAG_TEST_REGISTRY', default: 'models/registry', help: 'registry' },
    count: { type: 'integer', default: 10, check: positive, help: 'how many' },
    port: { type: 'integer', check: between(1, 65535), help: 'port' },
    rate: { type: 'number', default: 2.5, check: nonNegative, help: 'rate' },
    dropout: { type: 'number', check: ratio, help: 'dropout' },
    quiet: { type: 'boolean', help: 'quiet' },
    data: { type: 'string', multiple: true, help: 'repeatable' },
    variants: { type: 'list', default: ['a', 'b'], choices: ['a', 'b', 'c'], help: 'a list' },
  },
});

const parse = (argv: string[]) => parseCommandArgs(spec, argv);

function usageError(argv: string[], pattern: RegExp): void {
  assert.throws(
    () => parse(argv),
    (err) => isLivetagError(err, 'LT_USAGE') && pattern.test(err.message),
    `${argv.join(' ')} should fail with ${pattern}`,
  );
}

test('parses every type and fills defaults', () => {
  const { values, positionals, help } = parse(['go', '-m', 'x', '--count', '3', '--rate=0.5', '--quiet', '--data', 'a', '--data', 'b', '--variants', 'c, a', 'in.txt']);
  assert.equal(help, false);
  assert.deepEqual(positionals, ['go', 'in.txt']);
  assert.deepEqual(values, {
    model: 'x',
    format: 'jsonl',
    registry: 'models/registry',
    count: 3,
    port: undefined,
    rate: 0.5,
    dropout: undefined,
    quiet: true,
    data: ['a', 'b'],
    variants: ['c', 'a'],
  });
  const defaults = parse(['stop', '--model', 'x']).values;
  assert.equal(defaults.count, 10);
  assert.equal(defaults.rate, 2.5);
  assert.equal(defaults.quiet, false);
  assert.deepEqual(defaults.data, []);
  assert.deepEqual(defaults.variants, ['a', 'b']);
});

test('an environment variable, where declared, wins over the default but not over the flag', () => {
  process.env.LIVETAG_TEST_REGISTRY = '/from/env';
  try {
    assert.equal(parse(['go', '--model', 'x']).values.registry, '/from/env');
    assert.equal(parse(['go', '--model', 'x', '--registry', 'flag']).values.registry, 'flag');
    // Empty or blank is unset, as for serve's settings: the chart sets "" for "none".
    for (const blank of ['', '  ']) {
      process.env.LIVETAG_TEST_REGISTRY = blank;
      assert.equal(parse(['go', '--model', 'x']).values.registry, 'models/registry', JSON.stringify(blank));
    }
  } finally {
    delete process.env.LIVETAG_TEST_REGISTRY;
  }
});

test('--help short-circuits before required options are checked', () => {
  assert.equal(parse(['--help']).help, true);
  assert.equal(parse(['-h']).help, true);
});

test('usage errors name the option and the value', () => {
  usageError(['go', '--model', 'x', '--bogus'], /^unknown option --bogus$/);
  usageError(['go', '--model', 'x', '-z'], /^unknown option -z$/);
  usageError(['go'], /^--model is required$/);
  usageError(['go', '--model'], /--model/);
  usageError(['go', '--model', 'x', '--count', 'abc'], /^--count abc: not a number$/);
  usageError(['go', '--model', 'x', '--count', ''], /^--count : not a number$/);
  usageError(['go', '--model', 'x', '--count', '1.5'], /^--count 1\.5: not an integer$/);
  usageError(['go', '--model', 'x', '--count', '0'], /^--count 0: must be > 0$/);
  usageError(['go', '--model', 'x', '--port', '70000'], /^--port 70000: must be in \[1, 65535\]$/);
  usageError(['go', '--model', 'x', '--dropout', '1'], /^--dropout 1: must be in \[0, 1\)$/);
  usageError(['go', '--model', 'x', '--rate', 'Infinity'], /^--rate Infinity: not a number$/);
  usageError(['go', '--model', 'x', '--format', 'xml'], /^--format "xml": must be one of jsonl, table$/);
  usageError(['go', '--model', 'x', '--variants', 'a,z'], /^--variants "z": must be one of a, b, c$/);
  usageError(['go', '--model', 'x', '--quiet=yes'], /--quiet/);
  usageError(['--model', 'x'], /^<action> is required$/);
  usageError(['jump', '--model', 'x'], /^<action> "jump": must be one of go, stop$/);
  usageError(['go', 'a', 'b', '--model', 'x'], /^unexpected argument "b"$/);
});

test('parsed values are typed by the declaration', () => {
  const values: OptionValues<typeof spec.options> = parse(['go', '--model', 'x']).values;
  const format: 'jsonl' | 'table' = values.format;
  const count: number = values.count;
  const port: number | undefined = values.port;
  const list: ('a' | 'b' | 'c')[] = values.variants;
  // @ts-expect-error an optional number may be absent
  const absent: number = values.port;
  // @ts-expect-error only declared choices
  const wrong: 'xml' = values.format;
  assert.deepEqual([format, count, port, list, absent, wrong], ['jsonl', 10, undefined, ['a', 'b'], undefined, 'jsonl']);
});

test('a negative number after an option is its value, so the option\'s own check names what is allowed', () => {
  usageError(['go', '-m', 'x', '--count', '-1'], /^--count -1: must be > 0$/);
  usageError(['go', '-m', 'x', '--rate', '-.5'], /^--rate -\.5: must be ≥ 0$/);
  // Not joined: a boolean flag's neighbour and anything after --.
  assert.deepEqual(parse(['go', '-m', 'x', '--', '-5']).positionals, ['go', '-5']);
  usageError(['go', '-m', 'x', '--quiet', '-3'], /-3/);
});
