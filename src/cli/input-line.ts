/** Input lines of `classify` and `optimize --texts`: plain text, or JSONL with a "text" field. */
import { parseInputText } from '../consumer/input-message.ts';

export type InputLine = { line: number; text: string } | { line: number; error: { code: string; reason: string } };

export function parseLine(raw: string, line: number): InputLine {
  const trimmed = raw.trim();
  if (trimmed.length === 0) return { line, error: { code: 'LT_MSG_EMPTY_TEXT', reason: 'empty line' } };
  if (!trimmed.startsWith('{')) return { line, text: raw };
  const parsed = parseInputText(trimmed);
  return parsed.ok ? { line, text: parsed.message.text } : { line, error: { code: parsed.code, reason: parsed.reason } };
}
