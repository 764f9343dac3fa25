import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS } from '../../../src/cli/command-table.ts';
import { optionSynopsis, renderHelp, renderTopLevelHelp, renderUsage } from '../../../src/cli/help.ts';
import { defineCommand, positive } from '../../../src/cli/options.ts';
import { OPTIMIZE_VARIANTS } from '../../../src/cli/specs/optimize.ts';
import { VARIANT_NAMES } from '../../../src/model/build/variants.ts';

test('every command has a name, a one-line summary and help listing each of its options', () => {
  const names = COMMANDS.map((c) => c.spec.name);
  assert.equal(new Set(names).size, names.length, 'command names are unique');
  for (const { spec } of COMMANDS) {
    assert.ok(spec.summary.length > 0 && !spec.summary.includes('\n'), `${spec.name}: one-line summary`);
    const help = renderHelp(spec);
    assert.ok(help.startsWith(`usage: ${renderUsage(spec)}\n`), spec.name);
    assert.ok(help.includes(spec.summary), spec.name);
    assert.ok(help.includes('-h, --help'), spec.name);
    for (const [name, option] of Object.entries(spec.options)) {
      assert.ok(help.includes(optionSynopsis(name, option)), `${spec.name} --help shows --${name}`);
      assert.ok(help.includes(option.help), `${spec.name} --help explains --${name}`);
      assert.ok(!option.help.includes('\n'), `${spec.name} --${name}: one-line help`);
    }
  }
});

test('every declared default passes its own check and choices', () => {
  for (const { spec } of COMMANDS) {
    for (const [name, o] of Object.entries(spec.options)) {
      if ((o.type === 'number' || o.type === 'integer') && o.default !== undefined) {
        assert.ok(o.check ? o.check.test(o.default) : true, `${spec.name} --${name}`);
        if (o.type === 'integer') assert.ok(Number.isSafeInteger(o.default), `${spec.name} --${name}`);
      }
      if ((o.type === 'string' && !o.multiple) || o.type === 'list') {
        const defaults = o.default === undefined ? [] : typeof o.default === 'string' ? [o.default] : o.default;
        for (const d of defaults) assert.ok(!o.choices || o.choices.includes(d), `${spec.name} --${name} ${d}`);
      }
    }
  }
});

test("optimize's declared variants are the ones the optimizer builds", () => {
  assert.deepEqual([...OPTIMIZE_VARIANTS], VARIANT_NAMES);
});

test('usage lines: required options, [options], positionals and subcommand words', () => {
  const spec = defineCommand({
    name: 'x',
    summary: 's',
    positionals: [
      { name: 'sub', required: true, choices: ['start'], help: 'the only action' },
      { name: 'dir', required: true, help: 'a directory' },
      { name: 'file', help: 'a file' },
    ],
    options: {
      out: { type: 'string', required: true, value: 'DIR', help: 'output' },
      data: { type: 'string', multiple: true, required: true, help: 'inputs' },
      n: { type: 'integer', default: 3, check: positive, help: 'count' },
    },
    exitCodes: { LT_DATA: { status: 3, help: 'no data' } },
  });
  assert.equal(renderUsage(spec), 'livetag x start --out DIR --data VALUE… [options] <dir> [file]');
  const help = renderHelp(spec, 'footer text');
  assert.match(help, /--n N +count \(integer > 0; default 3\)/);
  assert.match(help, /--out DIR +output \(required\)/);
  assert.match(help, /--data VALUE +inputs \(required; repeatable\)/);
  assert.match(help, /exit status: .*3 no data \(LT_DATA\)/);
  assert.ok(help.endsWith('\n\nfooter text'));
});

test('top-level help lists every command with its summary', () => {
  const help = renderTopLevelHelp(COMMANDS.map((c) => c.spec));
  for (const { spec } of COMMANDS) assert.match(help, new RegExp(`^  ${spec.name} +${spec.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(help, /--version/);
});
