/**
 * Unlabeled text for pretraining: JSONL files (.jsonl/.ndjson, a `text` field), plain-text
 * files (a text a line), directories of them, and a Kafka topic read through
 * the project's Kafka port with the service's input mapping, up to a record
 * or time limit. Texts are deduplicated: a repeated comment would otherwise
 * be memorised rather than learned from.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LivetagError } from '../../common/errors.ts';
import { DEFAULT_INPUT_MAPPING, mapFields, unwrapEnvelope, type InputMapping } from '../../consumer/input-mapping.ts';
import { createKafkaClient } from '../../kafka/client.ts';
import { readToEnd } from '../../kafka/read-to-end.ts';
import type { KafkaConnection } from '../../kafka/connection.ts';
import type { ConsumedRecord } from '../../kafka/port.ts';
import { readJsonlRecords, unreadablePath } from '../data-files.ts';

export interface CorpusTopic {
  readonly kafka: Pick<KafkaConnection, 'brokers' | 'ssl' | 'sasl'> & Partial<Pick<KafkaConnection, 'client'>>;
  readonly topic: string;
  readonly groupId: string;
  readonly maxRecords: number;
  readonly maxSeconds: number;
  /** JSON Pointer to the text in a message, as the service's LIVETAG_INPUT_TEXT_FIELD; default /text. */
  readonly textPointer?: string;
}

export interface CorpusSource {
  readonly name: string;
  readonly read: number;
  readonly kept: number;
  readonly skipped: number;
  /** A file's skipped lines that are not JSON at all (the rest parse but have no string `text`). */
  readonly notJson?: number;
  /** A file's first skipped line, so a broken export can be found. */
  readonly firstSkippedLine?: number;
  /** A topic's read: what ended it (a limit leaves the rest of the topic unread). */
  readonly ended?: 'end' | 'max-records' | 'max-seconds';
}

export interface Corpus {
  readonly texts: string[];
  readonly sources: CorpusSource[];
  readonly duplicates: number;
}

const JSON_EXTENSIONS = ['.jsonl', '.ndjson'];
const hasExtension = (name: string, extensions: readonly string[]): boolean => extensions.some((e) => name.toLowerCase().endsWith(e));
const TEXT_EXTENSIONS = [...JSON_EXTENSIONS, '.txt', '.text'];
/** Read as text a line, these would train on raw JSON or compressed bytes. */
const REFUSED = /\.(json|gz|gzip|zst|bz2|xz|zip|parquet)$/i;

/** Files of a path: itself, or a directory's *.jsonl / *.ndjson / *.txt files, sorted. */
export async function corpusFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch((cause: NodeJS.ErrnoException) => {
    throw unreadablePath(path, cause);
  });
  if (!info.isDirectory()) {
    if (REFUSED.test(path)) throw new LivetagError('LT_DATA', `${path}: not read: give JSONL (.jsonl/.ndjson, a "text" field per line) or plain text (a text a line), uncompressed`);
    return [path];
  }
  // Files only (a folder named archive.jsonl is not read), links to files too (a Kubernetes
  // ConfigMap mounts its keys as links), whatever the case of the extension.
  const files: string[] = [];
  for (const e of await readdir(path, { withFileTypes: true })) {
    if (!hasExtension(e.name, TEXT_EXTENSIONS)) continue;
    if (e.isFile() || (e.isSymbolicLink() && (await stat(join(path, e.name)).catch(() => undefined))?.isFile())) files.push(e.name);
  }
  return files.sort().map((n) => join(path, n));
}

/** The text of one JSONL line: a string `text` field, else nothing; null when the line is not JSON. */
function jsonText(line: string): string | undefined | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const t = v !== null && typeof v === 'object' ? (v as Record<string, unknown>).text : undefined;
  return typeof t === 'string' ? t : undefined;
}

/** A message's text as the service reads it (JSON, CloudEvents, its input mapping), else nothing. */
export function messageText(r: Pick<ConsumedRecord, 'value' | 'headers'>, mapping: InputMapping = DEFAULT_INPUT_MAPPING): string | undefined {
  const raw = r.value?.toString('utf8');
  if (raw === undefined) return undefined;
  try {
    const mapped = mapFields(unwrapEnvelope(JSON.parse(raw), r.headers, (s) => JSON.parse(s)), mapping);
    return mapped.ok ? String(mapped.fields.text) : undefined;
  } catch {
    return undefined;
  }
}

async function readFileTexts(file: string, add: (text: string | undefined) => boolean): Promise<CorpusSource> {
  // EXPORT.JSONL is JSON too: read as text a line, its raw JSON (label names included) would be pretrained on.
  const json = hasExtension(file, JSON_EXTENSIONS);
  let read = 0;
  let kept = 0;
  let skipped = 0;
  let notJson = 0;
  let firstSkippedLine: number | undefined;
  for await (const r of readJsonlRecords(file)) {
    read++;
    const text = json ? jsonText(r.value) : r.value;
    if (text === null) notJson++;
    if (text == null || text.trim() === '') {
      skipped++;
      firstSkippedLine ??= Number(r.position);
    } else if (add(text)) kept++;
  }
  return { name: file, read, kept, skipped, ...(skipped > 0 ? { notJson, firstSkippedLine } : {}) };
}

/** Reads the topic from the beginning under its own group (never committing) until its end, maxRecords or maxSeconds. */
export async function readTopicTexts(t: CorpusTopic, add: (text: string | undefined) => boolean): Promise<CorpusSource> {
  const client = await createKafkaClient({ connection: { ...t.kafka, clientId: `livetag-pretrain-${t.groupId}` } });
  const ends = new Map((await client.admin.watermarks(t.topic)).filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const mapping: InputMapping = t.textPointer ? { ...DEFAULT_INPUT_MAPPING, textPointer: t.textPointer } : DEFAULT_INPUT_MAPPING;
  let read = 0;
  let kept = 0;
  let skipped = 0;
  // Partitions arrive interleaved at random: in log order, the same topic gives the same corpus
  // (and the same vocabulary and batches, which a resumed run relies on).
  const got: Array<{ readonly partition: number; readonly offset: bigint; readonly text: string | undefined }> = [];
  const how = await readToEnd(client, {
    topic: t.topic,
    groupId: t.groupId,
    ends,
    timeoutMs: t.maxSeconds * 1000,
    atTimeout: 'stop',
    onRecord(r) {
      read++;
      got.push({ partition: r.partition, offset: BigInt(r.offset), text: messageText(r, mapping) });
      return read < t.maxRecords;
    },
  });
  got.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  for (const { text } of got) {
    if (text === undefined || text.trim() === '') skipped++;
    else if (add(text)) kept++;
  }
  return { name: `kafka:${t.topic}`, read, kept, skipped, ended: how === 'end' ? 'end' : how === 'stopped' ? 'max-records' : 'max-seconds' };
}

export async function readCorpus(paths: readonly string[], topic: CorpusTopic | undefined, log: (line: string) => void): Promise<Corpus> {
  const seen = new Set<string>();
  const texts: string[] = [];
  let duplicates = 0;
  const add = (text: string | undefined): boolean => {
    const t = text?.trim();
    if (!t) return false;
    if (seen.has(t)) {
      duplicates++;
      return false;
    }
    seen.add(t);
    texts.push(t);
    return true;
  };
  const sources: CorpusSource[] = [];
  for (const path of paths) for (const file of await corpusFiles(path)) sources.push(await readFileTexts(file, add));
  if (topic) sources.push(await readTopicTexts(topic, add));
  const ends = { end: '', 'max-records': ' (stopped at --max-records)', 'max-seconds': ' (stopped at --max-seconds)' };
  for (const s of sources) log(`corpus: ${s.name}: ${s.read} records, ${s.kept} new texts${s.skipped ? `, ${s.skipped} without text${skipDetail(s)}` : ''}${s.ended ? ends[s.ended] : ''}`);
  if (texts.length === 0) throw new LivetagError('LT_DATA', 'no texts to pretrain on (give --data files or --topic)');
  log(`corpus: ${texts.length} distinct texts (${duplicates} duplicates dropped)`);
  return { texts, sources, duplicates };
}

function skipDetail(s: CorpusSource): string {
  if (s.firstSkippedLine === undefined) return '';
  return ` (${s.notJson ? `${s.notJson} not JSON; ` : ''}first at line ${s.firstSkippedLine})`;
}
