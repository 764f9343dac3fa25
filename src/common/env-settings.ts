import { z } from 'zod';

/** One environment variable: its schema, its default (a string, parsed like a set value) and one line of documentation. */
export interface Setting {
  readonly schema: z.ZodType;
  readonly default: string | undefined;
  readonly doc: string;
}

export type SettingsTable = Readonly<Record<string, Setting>>;

export type ParsedSettings<T extends SettingsTable> = { [K in keyof T]: z.output<T[K]['schema']> };

export const settingInt = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
export const settingBool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
export const settingCsv = z
  .string()
  .min(1)
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .refine((v) => v.length > 0, 'at least one entry');

/**
 * Parses the variables of `table` from `env` (with `overrides` on top). Every
 * problem is collected rather than thrown, so a bad deployment is fixed in one
 * round trip; `input` is what was set (empty or blank strings count as unset).
 */
export function parseSettings<T extends SettingsTable>(
  table: T,
  env: NodeJS.ProcessEnv,
  overrides: Partial<Record<keyof T, string>> = {},
): { values: ParsedSettings<T>; input: Record<string, string | undefined>; problems: string[] } {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(table)) {
    const v = overrides[key as keyof T] ?? env[key];
    // Blank counts as unset too: coerced, "  " would be the number 0, which switches several settings off.
    input[key] = v === undefined || v.trim() === '' ? undefined : v;
  }
  // prefault: the string default goes through the same coercion as a set value.
  const schema = z.object(Object.fromEntries(Object.entries(table).map(([k, s]) => [k, s.default === undefined ? s.schema.optional() : s.schema.prefault(s.default)])));
  const problems: string[] = [];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0])}=${JSON.stringify(input[String(issue.path[0])] ?? '')}: ${issue.message}`);
  }
  return { values: (parsed.success ? parsed.data : {}) as ParsedSettings<T>, input, problems };
}

/** Reads a secret from the file a setting names, or records why it cannot. */
export function readSecretSetting(readFile: (path: string) => string, key: string, input: Record<string, string | undefined>, problems: string[]): string | undefined {
  const file = input[key];
  if (!file) return undefined;
  try {
    const secret = readFile(file).trim();
    // An empty token file must not read as "no token": that would switch authentication off.
    if (secret === '') problems.push(`${key}=${JSON.stringify(file)}: the file is empty`);
    return secret === '' ? undefined : secret;
  } catch (err) {
    problems.push(`${key}=${JSON.stringify(file)}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** A markdown table of settings (variable, default, meaning) for the README. */
export function settingsReference(table: SettingsTable, shownDefault: (key: string, s: Setting) => string | undefined = () => undefined): string {
  const rows = Object.entries(table).map(([k, s]) => {
    const def = shownDefault(k, s) ?? (s.default === undefined ? '(unset)' : `\`${s.default}\``);
    return `| \`${k}\` | ${def} | ${s.doc} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
