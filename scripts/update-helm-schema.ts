/**
 * Regenerates the `config` property of helm/livetag/values.schema.json from
 * SETTINGS, so `helm lint` / `helm template` refuse a setting `livetag serve`
 * does not read (a typo would otherwise be rendered into the ConfigMap and
 * silently ignored) and, for enum and boolean settings, a value it would refuse
 * at pod start. Helm reads the schema as a static file, hence a generated block
 * rather than a schema built at render time.
 *
 *   node --import tsx scripts/update-helm-schema.ts [--check]
 */
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { SettingsTable } from '../src/common/env-settings.ts';
import { SETTINGS } from '../src/consumer/config.ts';
import { isMainModule, updateGeneratedFile } from './generated-file.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('../helm/livetag/values.schema.json', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// The ConfigMap renders each value with toString, so a YAML or --set number or boolean is fine where its text is.
const ANY_VALUE: Json = { type: ['string', 'number', 'boolean'] };

/**
 * The JSON Schema of one setting's value: the accepted strings when the
 * setting's input is a plain enum (settingBool included), anything renderable
 * otherwise. Ranges, patterns and unions stay with the service: restating them
 * here would be a second copy to drift.
 */
export function valueSchema(schema: z.ZodType): Json {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else break;
  }
  if (!(s instanceof z.ZodEnum)) return ANY_VALUE;
  const options: readonly unknown[] = s.options;
  if (!options.every((o): o is string => typeof o === 'string')) return ANY_VALUE;
  // '' is unset (the service's default; values.yaml's documented way to say so); 'true' is also YAML's true, '1' its 1.
  const literals = options.flatMap((o) => {
    try {
      const v: unknown = JSON.parse(o);
      return (typeof v === 'boolean' || typeof v === 'number') && String(v) === o ? [v] : [];
    } catch {
      return [];
    }
  });
  return { enum: ['', ...options, ...literals] };
}

/** The `config` property: exactly the settings of `table`, each with its value schema. */
export function configSchema(table: SettingsTable = SETTINGS): Json {
  return {
    $comment: 'Generated from SETTINGS (src/consumer/config.ts) by scripts/update-helm-schema.ts: edit those, not this.',
    type: 'object',
    description: 'LIVETAG_* settings of livetag serve, rendered into the ConfigMap; unknown names are refused.',
    propertyNames: { pattern: '^LIVETAG_[A-Z0-9_]+$' },
    properties: Object.fromEntries(Object.entries(table).map(([key, s]) => [key, valueSchema(s.schema)])),
    additionalProperties: false,
  };
}

/** One line, spaced like the hand-written parts of the file. */
function inline(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${inline(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

/** The `config` block as it sits in the file (4-space indent, one line per setting). */
function renderBlock(schema: Json): string {
  const lines = Object.entries(schema as Record<string, Json>).map(([k, v]) => {
    if (k !== 'properties') return `      ${JSON.stringify(k)}: ${inline(v)}`;
    const props = Object.entries(v as Record<string, Json>).map(([name, p]) => `        ${JSON.stringify(name)}: ${inline(p)}`);
    return `      "properties": {\n${props.join(',\n')}\n      }`;
  });
  return `"config": {\n${lines.join(',\n')}\n    }`;
}

/** Index just past the value that opens at `start` (a `{`), skipping braces inside strings. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  throw new Error('values.schema.json: unbalanced braces after "config"');
}

/** The schema text with its `config` block regenerated; the rest of the file is left as written. */
export function renderHelmSchema(text: string, table: SettingsTable = SETTINGS): string {
  // Top-level properties are indented by four spaces; nested "config" keys (if any) are not matched.
  const at = text.search(/^ {4}"config": \{/m);
  if (at < 0) throw new Error('values.schema.json has no top-level "config" property');
  const open = text.indexOf('{', at);
  const schema = configSchema(table);
  const next = text.slice(0, at + 4) + renderBlock(schema) + text.slice(closingBrace(text, open));
  // The splice must land on the top-level property, whatever the file's layout.
  if (!isDeepStrictEqual((JSON.parse(next) as { properties: Record<string, Json> }).properties.config, schema)) {
    throw new Error('values.schema.json: the regenerated "config" block is not properties.config');
  }
  return next;
}

if (isMainModule(import.meta.url)) updateGeneratedFile(SCHEMA_FILE, (current) => renderHelmSchema(current), fileURLToPath(import.meta.url));
