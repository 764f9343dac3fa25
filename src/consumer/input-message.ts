import { TextDecoder } from 'node:util';
import { z } from 'zod';
import type { ErrorCode } from '../common/errors.ts';
import type { RecordHeaders } from '../kafka/port.ts';
import { DEFAULT_INPUT_MAPPING, mapFields, setOwn, unwrapEnvelope, type InputMapping } from './input-mapping.ts';

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

/** The schema's keys, in the order its parse writes them: the fast path keeps that order. */
const KNOWN_KEYS = ['text', 'id', 'room', 'user', 'ts'] as const;

/**
 * InputMessageSchema's check without zod's per-call machinery (zod costs
 * several µs per message on the hot path): the same verdicts, the same key
 * order as its output. undefined means "not valid": the caller then asks zod,
 * for its message.
 */
function quickShape(fields: Record<string, unknown>): InputMessage | undefined {
  const { text, id, room, user, ts } = fields;
  if (typeof text !== 'string') return undefined;
  if (id !== undefined && typeof id !== 'string' && (typeof id !== 'number' || !Number.isFinite(id))) return undefined;
  if ((room !== undefined && typeof room !== 'string') || (user !== undefined && typeof user !== 'string')) return undefined;
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isFinite(ts))) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of KNOWN_KEYS) if (Object.hasOwn(fields, k)) out[k] = fields[k];
  for (const k in fields) if (!Object.hasOwn(out, k) && Object.hasOwn(fields, k)) setOwn(out, k, fields[k]);
  return out as InputMessage;
}

const isDefaultMapping = (m: InputMapping): boolean => m === DEFAULT_INPUT_MAPPING || (m.textPointer === '/text' && m.idPointer === '/id' && m.passthrough === 'all');

/**
 * The common record — a plain JSON object, no CloudEvent in headers or body,
 * the default mapping — needs no envelope or pointer work: its fields are the
 * document's own (what mapFields would copy).
 */
function plainDefault(json: unknown, opts: ParseOptions, mapping: InputMapping): Record<string, unknown> | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json) || !isDefaultMapping(mapping)) return undefined;
  if (Object.hasOwn(json, 'specversion') || (opts.headers && opts.headers['ce_specversion'] !== undefined)) return undefined;
  const { text, id } = json as Record<string, unknown>;
  // Anything mapFields would reject or rewrite (no text, a text or id of the wrong type, an undefined id it drops) takes the general path.
  if (typeof text !== 'string' || !Object.hasOwn(json, 'text') || (typeof id !== 'string' && typeof id !== 'number')) return undefined;
  return json as Record<string, unknown>;
}

/** Validates already-decoded text (CLI lines, tests). Never throws. */
export function parseInputText(raw: string, maxBytes = Infinity, opts: ParseOptions = {}): Parsed {
  if (maxBytes !== Infinity && Buffer.byteLength(raw, 'utf8') > maxBytes) return reject('LT_MSG_TOO_LARGE', `message is over ${maxBytes} bytes`);
  return parseDecoded(raw, opts);
}

/** JSON, envelope, mapping, schema and non-empty text of text already within the size limit. */
function parseDecoded(raw: string, opts: ParseOptions): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return reject('LT_MSG_BAD_JSON', `not valid JSON: ${(err as Error).message}`);
  }
  const mapping = opts.mapping ?? DEFAULT_INPUT_MAPPING;
  let fields = plainDefault(json, opts, mapping);
  if (!fields) {
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
    fields = mapped.fields;
  }
  const quick = quickShape(fields);
  if (!quick) return schemaRejection(fields, mapping);
  if (quick.text.trim().length === 0) return reject('LT_MSG_EMPTY_TEXT', `${mapping.textPointer}: text is empty`);
  return { ok: true, message: Object.freeze(quick) };
}

/** zod's verdict and message for fields the quick check refused. */
function schemaRejection(fields: Record<string, unknown>, mapping: InputMapping): Parsed {
  const parsed = InputMessageSchema.safeParse(fields);
  if (parsed.success) {
    // Unreachable while quickShape mirrors the schema; kept so a drift between them fails safe.
    if (parsed.data.text.trim().length === 0) return reject('LT_MSG_EMPTY_TEXT', `${mapping.textPointer}: text is empty`);
    return { ok: true, message: Object.freeze(parsed.data) };
  }
  const issue = parsed.error.issues[0];
  const at = issue.path[0] === 'text' ? mapping.textPointer : issue.path[0] === 'id' ? mapping.idPointer : `/${issue.path.join('/')}`;
  return reject('LT_MSG_INVALID', `${at}: ${issue.message}`);
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
  // The value's byte length was checked above; the decoded text is no longer.
  return parseDecoded(raw, opts);
}
