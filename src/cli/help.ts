/** `--help` text, usage lines and top-level help, all rendered from command declarations. */
import type { CommandSpec, OptionSpec, PositionalSpec } from './options.ts';

/** How an option's value is written: its declared name, else its choices, else its type. */
export function valueName(o: OptionSpec): string {
  if (o.type === 'boolean') return '';
  if (o.value) return o.value;
  if ((o.type === 'string' || o.type === 'list') && 'choices' in o && o.choices) return o.choices.join(o.type === 'list' ? ',' : '|');
  if (o.type === 'integer') return 'N';
  if (o.type === 'number') return 'X';
  if (o.type === 'list') return 'a,b,…';
  return 'VALUE';
}

/** `--name VALUE`, or `-s, --name VALUE` where there is a short alias. */
export function optionSynopsis(name: string, o: OptionSpec): string {
  const value = valueName(o);
  return `${o.short ? `-${o.short}, ` : ''}--${name}${value ? ` ${value}` : ''}`;
}

/** A required positional with one allowed value is a subcommand word (`kafka start`), written as is. */
const isWord = (p: PositionalSpec): boolean => p.required === true && p.choices?.length === 1;

/** `livetag NAME <required options> [options] <positionals>`, or the declared override. */
export function renderUsage(spec: CommandSpec): string {
  if (spec.usage) return spec.usage;
  const positionals = spec.positionals ?? [];
  const words = positionals.filter(isWord).map((p) => p.choices![0]);
  const args = positionals.filter((p) => !isWord(p)).map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`));
  const entries = Object.entries(spec.options);
  const required = entries.filter(([, o]) => o.required).map(([name, o]) => optionSynopsis(name, o) + (o.type === 'string' && o.multiple ? '…' : ''));
  const optional = entries.some(([, o]) => !o.required) ? ['[options]'] : [];
  return ['livetag', spec.name, ...words, ...required, ...optional, ...args].join(' ');
}

/** What `--help` adds after the option's own line: required, repeatable, type and constraint, default. */
export function optionNotes(o: OptionSpec): string[] {
  const notes: string[] = [];
  if (o.required) notes.push('required');
  if (o.type === 'string' && o.multiple) notes.push('repeatable');
  if (o.type === 'integer' || o.type === 'number') notes.push(o.check ? `${o.type} ${o.check.text}` : o.type);
  if (o.type === 'list' && o.check) notes.push(o.check.text);
  if (o.defaultHelp) notes.push(`default ${o.defaultHelp}`);
  else if (o.type === 'string' && !o.multiple && o.env) notes.push(`default $${o.env}${o.default === undefined ? '' : `, else ${o.default}`}`);
  else if ('default' in o && o.default !== undefined) notes.push(`default ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)}`);
  return notes;
}

function describeOption(name: string, o: OptionSpec): [string, string] {
  const notes = optionNotes(o);
  return [optionSynopsis(name, o), notes.length ? `${o.help} (${notes.join('; ')})` : o.help];
}

// Left cells longer than this put their text on the next line, so one long flag does not push every row right.
const MAX_LEFT = 28;

function columns(rows: readonly (readonly [string, string])[], width: number): string[] {
  return rows.map(([left, right]) => (left.length > width ? `  ${left}\n  ${' '.repeat(width + 2)}${right}` : `  ${left.padEnd(width + 2)}${right}`));
}

function widthOf(rows: readonly (readonly [string, string])[]): number {
  return Math.max(0, ...rows.map(([left]) => left.length).filter((n) => n <= MAX_LEFT));
}

/** The whole `livetag NAME --help` text; `footer` is text only the command's module can compute. */
export function renderHelp(spec: CommandSpec, footer?: string): string {
  const parts: string[] = [`usage: ${renderUsage(spec)}`, '', spec.summary];
  if (spec.description) parts.push('', spec.description);
  const positionals = (spec.positionals ?? []).filter((p) => !isWord(p)).map((p): [string, string] => [p.name, p.choices ? `${p.help} (${p.choices.join(', ')})` : p.help]);

  // Options keep their declared order; groups appear in order of their first option, and
  // --help closes the last one.
  const groups = new Map<string, [string, string][]>();
  for (const [name, o] of Object.entries(spec.options)) {
    const group = o.group ?? 'options';
    groups.set(group, [...(groups.get(group) ?? []), describeOption(name, o)]);
  }
  if (groups.size === 0) groups.set('options', []);
  [...groups.values()].at(-1)!.push(['-h, --help', 'show this help']);
  const width = widthOf([...positionals, ...[...groups.values()].flat()]);
  if (positionals.length) parts.push('', 'arguments:', ...columns(positionals, width));
  for (const [group, rows] of groups) parts.push('', `${group}:`, ...columns(rows, width));

  const exits = Object.entries(spec.exitCodes ?? {});
  if (exits.length) {
    const codes = ['0 success', '1 failed', '2 usage error', ...exits.map(([code, e]) => `${e!.status} ${e!.help} (${code})`)];
    parts.push('', `exit status: ${codes.join(', ')}`);
  }
  if (footer) parts.push('', footer);
  return parts.join('\n');
}

/** `livetag --help`: every command with its one-line summary. */
export function renderTopLevelHelp(specs: readonly CommandSpec[]): string {
  const commands = specs.map((s): [string, string] => [s.name, s.summary]);
  const options: [string, string][] = [
    ['-h, --help', 'show this help'],
    ['-v, --version', 'print the version'],
  ];
  const width = widthOf([...commands, ...options]);
  return [
    'usage: livetag <command> [options]',
    '',
    'commands:',
    ...columns(commands, width),
    '',
    'options:',
    ...columns(options, width),
    '',
    "Run `livetag <command> --help` for a command's options.",
  ].join('\n');
}
