import { TextDecoder } from 'node:util';
import { z } from 'zod';
import type { ErrorCode } from '../common/errors.ts';

/** A live comment as it arrives. Unknown fields pass through untouched. */
export const InputMessageSchema = z.looseObject({
  text: z.string(),
  id: z.union([z.string(), z.number()]).optional(),
  room: z.string().optional(),
  user: z.string().optional(),
  ts: z.number().finite().optional(),
});

export type InputMessage = z.infer<typeof InputMessageSchema>;

export type Parsed =
  | { readonly ok: true; readonly message: Readonly<InputMessage> }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function reject(code: ErrorCode, reason: string): Parsed {
  return { ok: false, code, reason };
}

/** Validates already-decoded text (CLI lines, tests). Never throws. */
export function parseInputText(raw: string, maxBytes = Infinity): Parsed {
  if (Buffer.byteLength(raw, 'utf8') > maxBytes) return reject('LT_MSG_TOO_LARGE', `message is over ${maxBytes} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return reject('LT_MSG_BAD_JSON', `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = InputMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return reject('LT_MSG_INVALID', `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (parsed.data.text.trim().length === 0) return reject('LT_MSG_EMPTY_TEXT', 'text is empty');
  return { ok: true, message: Object.freeze(parsed.data) };
}

/** Validates a Kafka record value: size, strict UTF-8, JSON, schema, non-empty text. Never throws. */
export function parseInputBytes(value: Buffer | null, maxBytes: number): Parsed {
  if (value === null || value.length === 0) return reject('LT_MSG_BAD_JSON', 'empty record value');
  if (value.length > maxBytes) return reject('LT_MSG_TOO_LARGE', `message is ${value.length} bytes, over ${maxBytes}`);
  let raw: string;
  try {
    raw = strictUtf8.decode(value);
  } catch {
    return reject('LT_MSG_BAD_UTF8', 'record value is not valid UTF-8');
  }
  return parseInputText(raw, maxBytes);
}
