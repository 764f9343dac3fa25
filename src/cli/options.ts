/**
 * Commands declare their options once, as data: the parser below, `--help`,
 * top-level help and the README's CLI table are all derived from that
 * declaration, so they cannot disagree with each other.
 */
import { parseArgs } from 'node:util';
import { LivetagError, type ErrorCode } from '../common/errors.ts';

/** A constraint on a value, with the words `--help` and error messages use for it. */
export interface Check<T> {
  readonly test: (value: T) => boolean;
  readonly text: string;
}

export const positive: Check<number> = { test: (n) => n > 0, text: '> 0' };
export const nonNegative: Check<number> = { test: (n) => n >= 0, text: '≥ 0' };
/** [0, 1): dropout-like rates, where 1 would switch the thing off entirely. */
export const ratio: Check<number> = { test: (n) => n >= 0 && n < 1, text: 'in [0, 1)' };
/** (0, 1]: shares that must leave something, up to all of it. */
export const share: Check<number> = { test: (n) => n > 0 && n <= 1, text: 'in (0, 1]' };
export const atLeast = (min: number): Check<number> => ({ test: (n) => n >= min, text: `≥ ${min}` });
export const between = (min: number, max: number): Check<number> => ({ test: (n) => n >= min && n <= max, text: `in [${min}, ${max}]` });

interface OptionCommon {
  /** One line for `--help`. */
  readonly help: string;
  readonly short?: string;
  readonly required?: boolean;
  /** Heading the option is listed under in `--help`, for commands with many options. */
  readonly group?: string;
  /** How the value is written in `--help` (e.g. DIR); derived from the type when absent. */
  readonly value?: string;
  /** The default as `--help` states it, where the command or the job decides it (e.g. "the recipe's"). */
  readonly defaultHelp?: string;
}

export interface StringOption extends OptionCommon {
  readonly type: 'string';
  readonly multiple?: false;
  readonly default?: string;
  /** Environment variable read when the option is not given; it wins over `default`. */
  readonly env?: string;
  readonly choices?: readonly string[];
}

/** A repeatable string option (`--data a --data b`); an empty list when not given. */
export interface MultipleOption extends OptionCommon {
  readonly type: 'string';
  readonly multiple: true;
}

export interface NumberOption extends OptionCommon {
  /** 'integer' also refuses fractions and numbers beyond 2^53. */
  readonly type: 'number' | 'integer';
  readonly default?: number;
  readonly check?: Check<number>;
}

/** A flag: true when given, false otherwise. */
export interface BooleanOption extends OptionCommon {
  readonly type: 'boolean';
}

/** A comma-separated list in one argument (`--variants fused,int8`). */
export interface ListOption extends OptionCommon {
  readonly type: 'list';
  readonly default?: readonly string[];
  readonly choices?: readonly string[];
  readonly check?: Check<readonly string[]>;
}

export type OptionSpec = StringOption | MultipleOption | NumberOption | BooleanOption | ListOption;
export type OptionSpecs = { readonly [name: string]: OptionSpec };

export interface PositionalSpec {
  readonly name: string;
  readonly help: string;
  readonly required?: boolean;
  readonly choices?: readonly string[];
}

export interface CommandSpec<S extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  /** One line, for `livetag --help` and the README. */
  readonly summary: string;
  /** Prose shown by `--help` between the usage line and the options. */
  readonly description?: string;
  /** Replaces the generated usage line where positionals alone cannot say it. */
  readonly usage?: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly options: S;
  /** Errors that end the command with their own exit status instead of 1. */
  readonly exitCodes?: { readonly [C in ErrorCode]?: { readonly status: number; readonly help: string } };
}

/** Keeps the literal types of the declaration, so parsed values are typed by it. */
export function defineCommand<const S extends OptionSpecs>(spec: CommandSpec<S>): CommandSpec<S> {
  return spec;
}

type OptionValue<O> = O extends { type: 'boolean' }
  ? boolean
  : O extends { type: 'number' | 'integer' }
    ? number
    : O extends { type: 'list'; choices: readonly (infer C extends string)[] }
      ? C[]
      : O extends { type: 'list' }
        ? string[]
        : O extends { multiple: true }
          ? string[]
          : O extends { choices: readonly (infer C extends string)[] }
            ? C
            : string;

type AlwaysSet<O> = O extends { type: 'boolean' } | { multiple: true } | { required: true } | { default: unknown } ? true : false;

export type OptionValues<S extends OptionSpecs> = {
  -readonly [K in keyof S]: AlwaysSet<S[K]> extends true ? OptionValue<S[K]> : OptionValue<S[K]> | undefined;
};

export interface ParsedArgs<S extends OptionSpecs> {
  readonly help: boolean;
  readonly values: OptionValues<S>;
  readonly positionals: string[];
}

const usage = (message: string): LivetagError => new LivetagError('LT_USAGE', message);

function toNumber(name: string, spec: NumberOption, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw usage(`--${name} ${raw}: not a number`);
  if (spec.type === 'integer' && !Number.isSafeInteger(n)) throw usage(`--${name} ${raw}: not an integer`);
  if (spec.check && !spec.check.test(n)) throw usage(`--${name} ${raw}: must be ${spec.check.text}`);
  return n;
}

function oneOf(what: string, value: string, choices: readonly string[] | undefined): void {
  if (choices && !choices.includes(value)) throw usage(`${what} "${value}": must be one of ${choices.join(', ')}`);
}

function toValue(name: string, spec: OptionSpec, raw: string | boolean | string[] | undefined): unknown {
  switch (spec.type) {
    case 'boolean':
      return raw === true;
    case 'number':
    case 'integer':
      return typeof raw === 'string' ? toNumber(name, spec, raw) : spec.default;
    case 'list': {
      if (typeof raw !== 'string') return spec.default === undefined ? undefined : [...spec.default];
      const items = raw.split(',').map((s) => s.trim());
      for (const item of items) oneOf(`--${name}`, item, spec.choices);
      if (spec.check && !spec.check.test(items)) throw usage(`--${name} ${raw}: must be ${spec.check.text}`);
      return items;
    }
    case 'string': {
      if (spec.multiple) return Array.isArray(raw) ? raw : [];
      // An empty variable is unset, as for serve's settings (the chart sets LIVETAG_REGISTRY: "" when there is none).
      const fromEnv = spec.env !== undefined && process.env[spec.env]?.trim() ? process.env[spec.env] : undefined;
      const value = typeof raw === 'string' ? raw : (fromEnv ?? spec.default);
      if (typeof raw === 'string') oneOf(`--${name}`, raw, spec.choices);
      return value;
    }
  }
}

function isMissing(spec: OptionSpec, value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.length === 0 && (spec.type === 'list' || (spec.type === 'string' && spec.multiple === true)));
}

type RawValues = Record<string, string | boolean | string[] | undefined>;
const NEGATIVE = /^-(\d|\.\d)/;

/**
 * parseArgs reads "--count -1" as two options and fails with "argument is ambiguous"; joined as
 * "--count=-1", the value reaches the option's own check, which says what is allowed.
 */
function joinNegativeValues(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    if (/^--[^=]+$/.test(a) && options[a.slice(2)]?.type === 'string' && next !== undefined && NEGATIVE.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function syntax(spec: CommandSpec, argv: readonly string[]): { values: RawValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = {
      type: o.type === 'boolean' ? 'boolean' : 'string',
      ...(o.type === 'string' && o.multiple ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: true });
    return { values: values as RawValues, positionals };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (!(err instanceof TypeError) || typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    const unknown = /^Unknown option '([^']+)'/.exec(err.message);
    throw usage(unknown ? `unknown option ${unknown[1]}` : err.message.split('\n')[0]);
  }
}

/**
 * Parses argv against a command's declaration: types, defaults (environment
 * first where declared), checks, choices, required options and positionals.
 * Every failure is an LT_USAGE error naming the option and the value.
 */
export function parseCommandArgs<S extends OptionSpecs>(spec: CommandSpec<S>, argv: readonly string[]): ParsedArgs<S> {
  const raw = syntax(spec, argv);
  const values: Record<string, unknown> = {};
  if (raw.values.help === true) return { help: true, values: values as OptionValues<S>, positionals: raw.positionals };

  for (const [name, o] of Object.entries(spec.options)) {
    const value = toValue(name, o, raw.values[name]);
    if (o.required && isMissing(o, value)) throw usage(`--${name} is required`);
    values[name] = value;
  }
  const declared = spec.positionals ?? [];
  if (raw.positionals.length > declared.length) throw usage(`unexpected argument "${raw.positionals[declared.length]}"`);
  declared.forEach((p, i) => {
    const value = raw.positionals[i];
    if (value === undefined) {
      if (p.required) throw usage(`<${p.name}> is required`);
      return;
    }
    oneOf(`<${p.name}>`, value, p.choices);
  });
  return { help: false, values: values as OptionValues<S>, positionals: raw.positionals };
}
