/**
 * Where the text, the id and the fields to keep sit in an input record:
 * JSON Pointers (RFC 6901) into the record's JSON, or into a CloudEvent's
 * `data` (structured JSON, or binary mode with `ce_*` headers, as the
 * CloudEvents Kafka binding defines them). Platforms send `{"content": …}`,
 * nested envelopes or CloudEvents; the pointers let livetag read them as they
 * are instead of dead-lettering them.
 */
import { z } from 'zod';
import { deepFreeze } from '../common/freeze.ts';
import type { RecordHeaders } from '../kafka/port.ts';

/** One field copied to the output: the output key and the pointer it is read from. */
export interface PassthroughField {
  readonly name: string;
  readonly pointer: string;
}

export interface InputMapping {
  readonly textPointer: string;
  readonly idPointer: string;
  /** 'all': every top-level field of the document passes through (the behaviour before mappings existed). */
  readonly passthrough: 'all' | readonly PassthroughField[];
}

export const DEFAULT_INPUT_MAPPING: InputMapping = deepFreeze({ textPointer: '/text', idPointer: '/id', passthrough: 'all' });

/** Splits a pointer into its reference tokens; throws a message naming the pointer when it is not one. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`${JSON.stringify(pointer)} is not a JSON Pointer (it must start with "/")`);
  if (/~[^01]|~$/.test(pointer)) throw new Error(`${JSON.stringify(pointer)} has a "~" not followed by 0 or 1`);
  return pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The value at `pointer`, or `undefined` when any step is missing. */
export function resolvePointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      node = node[Number(token)];
    } else if (node !== null && typeof node === 'object' && Object.hasOwn(node, token)) {
      node = (node as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  return node;
}

export const pointerSchema = z.string().refine(
  (p) => {
    try {
      parsePointer(p);
      return p !== '';
    } catch {
      return false;
    }
  },
  { message: 'not a JSON Pointer (e.g. /payload/msg/text)' },
);

/** `LIVETAG_PASSTHROUGH_FIELDS`: `*`, or a comma list of `/pointer` or `name=/pointer` (the name defaults to the pointer's last token). */
export const passthroughSchema = z
  .string()
  .transform((v, ctx): InputMapping['passthrough'] => {
    if (v.trim() === '*') return 'all';
    const fields: PassthroughField[] = [];
    for (const entry of v.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = entry.indexOf('=');
      const pointer = eq < 0 ? entry : entry.slice(eq + 1).trim();
      if (!pointerSchema.safeParse(pointer).success) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(pointer)} is not a JSON Pointer` });
        return z.NEVER;
      }
      const tokens = parsePointer(pointer);
      fields.push({ name: eq < 0 ? tokens[tokens.length - 1] : entry.slice(0, eq).trim(), pointer });
    }
    const names = fields.map((f) => f.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) {
      ctx.addIssue({ code: 'custom', message: `two fields would be written as ${JSON.stringify(dup)}; name one with name=/pointer` });
      return z.NEVER;
    }
    return fields;
  });

/** A CloudEvent's context attributes, as the output keeps them. */
export interface CloudEventContext {
  readonly specversion: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time?: string;
}

export type Envelope =
  | { readonly kind: 'plain'; readonly doc: unknown }
  | { readonly kind: 'cloudevent'; readonly mode: 'structured' | 'binary'; readonly doc: unknown; readonly event: CloudEventContext };

function header(headers: RecordHeaders, name: string): string | undefined {
  const v = headers[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : String(one);
}

function context(get: (attr: string) => unknown): CloudEventContext | undefined {
  const [specversion, id, source, type, subject, time] = ['specversion', 'id', 'source', 'type', 'subject', 'time'].map((a) => get(a));
  if (typeof specversion !== 'string' || typeof id !== 'string' || typeof source !== 'string' || typeof type !== 'string') return undefined;
  return {
    specversion,
    id,
    source,
    type,
    ...(typeof subject === 'string' ? { subject } : {}),
    ...(typeof time === 'string' ? { time } : {}),
  };
}

/**
 * Recognises a CloudEvent. Binary mode: `ce_specversion` and the other
 * required attributes are headers and the value is the data. Structured
 * mode: the JSON carries `specversion`, `id`, `source` and `type` (with or
 * without the `application/cloudevents+json` content type, which producers
 * often leave out); the data is `data`, or `data_base64` holding JSON.
 */
export function unwrapEnvelope(json: unknown, headers: RecordHeaders, parseData: (raw: string) => unknown): Envelope {
  const binary = header(headers, 'ce_specversion') === undefined ? undefined : context((a) => header(headers, `ce_${a}`));
  if (binary) return { kind: 'cloudevent', mode: 'binary', doc: json, event: binary };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { kind: 'plain', doc: json };
  const obj = json as Record<string, unknown>;
  const structured = context((a) => obj[a]);
  if (!structured) return { kind: 'plain', doc: json };
  const doc = typeof obj.data_base64 === 'string' ? parseData(Buffer.from(obj.data_base64, 'base64').toString('utf8')) : obj.data;
  return { kind: 'cloudevent', mode: 'structured', doc, event: structured };
}

export type Mapped =
  | { readonly ok: true; readonly fields: Record<string, unknown> }
  | { readonly ok: false; readonly pointer: string; readonly reason: string };

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * A field of a message, always its own: JSON.parse gives a "__proto__" key as a plain property,
 * and assigning it would set the object's prototype instead (fields read through it, unvalidated).
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * The message fields the pipeline reads: text and id from their pointers,
 * then the passthrough fields. A CloudEvent's id stands in for a missing id,
 * and its context attributes are kept under `cloudevent`.
 */
export function mapFields(envelope: Envelope, mapping: InputMapping): Mapped {
  const { doc } = envelope;
  const text = resolvePointer(doc, mapping.textPointer);
  if (text === undefined) return { ok: false, pointer: mapping.textPointer, reason: 'not found' };
  if (typeof text !== 'string') return { ok: false, pointer: mapping.textPointer, reason: `expected a string, got ${describe(text)}` };
  let id = resolvePointer(doc, mapping.idPointer);
  if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') return { ok: false, pointer: mapping.idPointer, reason: `expected a string or a number, got ${describe(id)}` };
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify would publish as null.
  if (typeof id === 'number' && !Number.isFinite(id)) return { ok: false, pointer: mapping.idPointer, reason: 'expected a finite number' };
  if (id === undefined && envelope.kind === 'cloudevent') id = envelope.event.id;
  const fields: Record<string, unknown> = {};
  if (mapping.passthrough === 'all') {
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) for (const k of Object.keys(doc)) setOwn(fields, k, (doc as Record<string, unknown>)[k]);
  } else {
    for (const f of mapping.passthrough) {
      const v = resolvePointer(doc, f.pointer);
      if (v !== undefined) setOwn(fields, f.name, v);
    }
  }
  if (envelope.kind === 'cloudevent') fields.cloudevent = envelope.event;
  fields.text = text;
  if (id === undefined) delete fields.id;
  else fields.id = id;
  return { ok: true, fields };
}
