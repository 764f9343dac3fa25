import { TextDecoder } from 'node:util';
import { z } from 'zod';
import type { ErrorCode } from '../common/errors.ts';
import type { RecordHeaders } from '../kafka/port.ts';
import { DEFAULT_INPUT_MAPPING, mapFields, unwrapEnvelope, type InputMapping } from './input-mapping.ts';

/** A live comment once mapped (see input-mapping.ts). Unknown fields pass through untouched. */
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

/** How records are read: the field mapping and the size limit. */
export interface ParseOptions {
  readonly mapping?: InputMapping;
  /** The record's headers, for CloudEvents in binary mode. */
  readonly headers?: RecordHeaders;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function reject(code: ErrorCode, reason: string): Parsed {
  return { ok: false, code, reason };
}

class BadData extends Error {}

/** Validates already-decoded text (CLI lines, tests). Never throws. */
export function parseInputText(raw: string, maxBytes = Infinity, opts: ParseOptions = {}): Parsed {
  if (Buffer.byteLength(raw, 'utf8') > maxBytes) return reject('LT_MSG_TOO_LARGE', `message is over ${maxBytes} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return reject('LT_MSG_BAD_JSON', `not valid JSON: ${(err as Error).message}`);
  }
  const mapping = opts.mapping ?? DEFAULT_INPUT_MAPPING;
  let mapped;
  try {
    const envelope = unwrapEnvelope(json, opts.headers ?? {}, (data) => {
      try {
        return JSON.parse(data);
      } catch (err) {
        throw new BadData(`CloudEvent data_base64 is not JSON: ${(err as Error).message}`);
      }
    });
    mapped = mapFields(envelope, mapping);
  } catch (err) {
    if (err instanceof BadData) return reject('LT_MSG_BAD_JSON', err.message);
    throw err;
  }
  if (!mapped.ok) return reject('LT_MSG_INVALID', `${mapped.pointer}: ${mapped.reason}`);
  const parsed = InputMessageSchema.safeParse(mapped.fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue.path[0] === 'text' ? mapping.textPointer : issue.path[0] === 'id' ? mapping.idPointer : `/${issue.path.join('/')}`;
    return reject('LT_MSG_INVALID', `${at}: ${issue.message}`);
  }
  if (parsed.data.text.trim().length === 0) return reject('LT_MSG_EMPTY_TEXT', `${mapping.textPointer}: text is empty`);
  return { ok: true, message: Object.freeze(parsed.data) };
}

/** Validates a Kafka record value: size, strict UTF-8, JSON, mapping, schema, non-empty text. Never throws. */
export function parseInputBytes(value: Buffer | null, maxBytes: number, opts: ParseOptions = {}): Parsed {
  if (value === null || value.length === 0) return reject('LT_MSG_BAD_JSON', 'empty record value');
  if (value.length > maxBytes) return reject('LT_MSG_TOO_LARGE', `message is ${value.length} bytes, over ${maxBytes}`);
  let raw: string;
  try {
    raw = strictUtf8.decode(value);
  } catch {
    return reject('LT_MSG_BAD_UTF8', 'record value is not valid UTF-8');
  }
  return parseInputText(raw, maxBytes, opts);
}
