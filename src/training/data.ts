/**
 * Labeled rows in, a clean training set and a data report out. Bad rows are
 * reported and skipped, never fatal: a nightly job that dies on one broken
 * line from a labeling tool trains nothing at all.
 */
import { createHash } from 'node:crypto';

/** One unparsed record: a JSONL line or a Kafka message value. */
export interface RawRecord {
  readonly source: string;
  /** 1-based line number for files, offset for Kafka. */
  readonly position?: number | string;
  readonly value: string;
}

export interface LabeledRow {
  /** Identity of the text (sha256 prefix): duplicates, relabels and pinned splits key on it. */
  readonly key: string;
  readonly id: string;
  readonly text: string;
  readonly labels: readonly string[];
  readonly origin: 'previous' | 'new';
}

export const ISSUE_KINDS = [
  'invalid-json',
  'invalid-row',
  'empty-text',
  'too-long',
  'unknown-label',
  'label-added',
  'duplicate',
  'conflict',
  'relabeled',
  'truncated',
] as const;
export type IssueKind = (typeof ISSUE_KINDS)[number];

/** What happened to the row: rejected rows are not trained on. */
export const ISSUE_EFFECT: Record<IssueKind, 'rejected' | 'kept' | 'info'> = {
  'invalid-json': 'rejected',
  'invalid-row': 'rejected',
  'empty-text': 'rejected',
  'too-long': 'rejected',
  'unknown-label': 'rejected',
  'label-added': 'info',
  duplicate: 'info',
  conflict: 'rejected',
  relabeled: 'kept',
  truncated: 'kept',
};

export interface DataIssue {
  readonly kind: IssueKind;
  readonly source: string;
  readonly position?: number | string;
  readonly detail: string;
}

export interface DataReport {
  readonly sources: Record<string, { records: number; accepted: number }>;
  readonly counts: Partial<Record<IssueKind, number>>;
  /** Every issue up to a cap per kind, so a million bad lines do not make a million-line report. */
  readonly issues: DataIssue[];
  readonly omitted: Partial<Record<IssueKind, number>>;
  readonly accepted: number;
  readonly rejected: number;
  readonly previousRows: number;
  readonly newRows: number;
  readonly labelsAdded: string[];
  readonly labelCounts: Record<string, number>;
}

export interface ValidateOptions {
  /** Fixed label set (from a bundle or --labels); undefined: every label seen is accepted. */
  readonly labels?: readonly string[];
  /** Unknown labels extend the label set instead of rejecting their rows. */
  readonly addUnknownLabels?: boolean;
  /** Said after an unknown label: what the user can do about it (train: --add-labels). */
  readonly unknownLabelHint?: string;
  readonly maxChars?: number;
  readonly maxIssuesPerKind?: number;
}

export const DEFAULT_MAX_CHARS = 1000;

export function textKey(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

interface Candidate {
  readonly record: RawRecord;
  readonly text: string;
  readonly labels: string[];
  readonly id?: string;
  readonly origin: 'previous' | 'new';
}

function parseRecord(record: RawRecord): { ok: true; text: string; labels: string[]; id?: string } | { ok: false; kind: IssueKind; detail: string } {
  let value: unknown;
  try {
    value = JSON.parse(record.value);
  } catch (err) {
    return { ok: false, kind: 'invalid-json', detail: `not JSON: ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, kind: 'invalid-row', detail: 'not a JSON object' };
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.text !== 'string') return { ok: false, kind: 'invalid-row', detail: '"text" is missing or not a string' };
  if (!Array.isArray(obj.labels) || !obj.labels.every((l) => typeof l === 'string')) {
    return { ok: false, kind: 'invalid-row', detail: '"labels" is missing or not an array of strings' };
  }
  const trimmed = (obj.labels as string[]).map((l) => l.trim());
  // A blank name is a broken export, not "no tag": kept, the row would train as a negative for every label.
  if (trimmed.some((l) => l.length === 0)) return { ok: false, kind: 'invalid-row', detail: '"labels" holds an empty name' };
  const labels = [...new Set(trimmed)].sort();
  const id = typeof obj.id === 'string' || typeof obj.id === 'number' ? String(obj.id) : undefined;
  return { ok: true, text: obj.text, labels, ...(id === undefined ? {} : { id }) };
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 40 ? `${flat.slice(0, 40)}…` : flat;
}

type Note = (kind: IssueKind, record: RawRecord, detail: string) => void;

/** Labels as they grow: a fixed set (extended only with --add-labels), or undefined for an open set. */
interface LabelSet {
  readonly known?: string[];
  readonly knownSet: Set<string>;
  readonly added: string[];
}

/** Parses and checks one record; undefined when it is rejected (and noted). */
function candidateOf(record: RawRecord, origin: 'previous' | 'new', opts: ValidateOptions, labels: LabelSet, note: Note): Candidate | undefined {
  const maxChars = opts.maxChars ?? DEFAULT_MAX_CHARS;
  const reject = (kind: IssueKind, detail: string): undefined => {
    note(kind, record, detail);
    return undefined;
  };
  const parsed = parseRecord(record);
  if (!parsed.ok) return reject(parsed.kind, parsed.detail);
  const text = parsed.text.trim();
  if (text.length === 0) return reject('empty-text', 'text is empty');
  if ([...text].length > maxChars) return reject('too-long', `text has ${[...text].length} characters (limit ${maxChars}): "${preview(text)}"`);
  if (labels.known) {
    const unknown = parsed.labels.filter((l) => !labels.knownSet.has(l));
    if (unknown.length > 0) {
      if (!opts.addUnknownLabels) {
        return reject('unknown-label', `unknown label${unknown.length > 1 ? 's' : ''} ${unknown.map((l) => `"${l}"`).join(', ')} (${opts.unknownLabelHint ?? 'pass --add-labels to add'})`);
      }
      for (const l of unknown) {
        labels.knownSet.add(l);
        labels.known.push(l);
        labels.added.push(l);
        note('label-added', record, `new label "${l}" added on request`);
      }
    }
  }
  return { record, text, labels: parsed.labels, ...(parsed.id === undefined ? {} : { id: parsed.id }), origin };
}

const signature = (c: Candidate): string => c.labels.join('\u0000');

/** Picks the one row to keep among the records of one text (see validateRecords for the policies). */
function chooseAmongCopies(group: readonly Candidate[], note: Note): Candidate | undefined {
  const old = group.filter((c) => c.origin === 'previous');
  let neu = group.filter((c) => c.origin === 'new');
  // Records of one Kafka partition are in the order they were labeled: the last is a correction of the others, not a conflict.
  if (neu.length > 1 && neu.every((c) => c.record.source === neu[0].record.source && c.record.source.startsWith('kafka:'))) {
    const last = neu.reduce((a, b) => (BigInt(b.record.position ?? 0) > BigInt(a.record.position ?? 0) ? b : a));
    for (const c of neu) if (c !== last && signature(c) !== signature(last)) note('relabeled', last.record, `"${preview(last.text)}" was [${c.labels.join(', ')}] at offset ${c.record.position}, corrected to [${last.labels.join(', ')}]`);
    neu = [last, ...neu.filter((c) => c !== last && signature(c) === signature(last))];
  }
  const distinctNew = new Set(neu.map(signature));
  if (distinctNew.size > 1) {
    const variants = [...distinctNew].map((s) => `[${s.split('\u0000').filter(Boolean).join(', ')}]`).join(' vs ');
    for (const c of neu) note('conflict', c.record, `"${preview(c.text)}" has conflicting labels ${variants}; all ${neu.length} copies dropped`);
    return old[0];
  }
  if (neu.length === 0) return old[0];
  const chosen = neu[0];
  for (const c of neu.slice(1)) note('duplicate', c.record, `exact duplicate of ${c.record.source === chosen.record.source ? '' : `${chosen.record.source} `}line ${chosen.record.position ?? '?'}`);
  if (old.length > 0 && signature(old[0]) !== signature(chosen)) {
    note('relabeled', chosen.record, `"${preview(chosen.text)}" was [${old[0].labels.join(', ')}], now [${chosen.labels.join(', ')}]`);
  }
  return chosen;
}

/** A record the validation rejected, whole: the report keeps 200 of a kind, and a topic's offsets move on past them. */
export interface RejectedRecord extends DataIssue {
  readonly value: string;
}

/**
 * Validates and merges the previous training set with new records. Policies:
 * exact duplicates keep one copy; the same text with different labels among
 * new records is dropped (no way to know which is right); a new record whose
 * text was in the previous set with other labels replaces it (a relabel).
 */
export function validateRecords(
  previous: readonly RawRecord[],
  fresh: readonly RawRecord[],
  opts: ValidateOptions = {},
): { rows: LabeledRow[]; labels: string[]; report: DataReport; rejects: RejectedRecord[] } {
  const cap = opts.maxIssuesPerKind ?? 200;
  const found: Pick<DataReport, 'counts' | 'issues' | 'omitted'> = { counts: {}, issues: [], omitted: {} };
  const rejects: RejectedRecord[] = [];
  const note: Note = (kind, record, detail) => {
    const issue: DataIssue = { kind, source: record.source, ...(record.position === undefined ? {} : { position: record.position }), detail };
    noteIssue(found, issue, cap);
    if (ISSUE_EFFECT[kind] === 'rejected') rejects.push({ ...issue, value: record.value });
  };
  const sources: Record<string, { records: number; accepted: number }> = {};
  const labelSet: LabelSet = { ...(opts.labels ? { known: [...opts.labels] } : {}), knownSet: new Set(opts.labels ?? []), added: [] };

  const byKey = new Map<string, Candidate[]>();
  const take = (record: RawRecord, origin: 'previous' | 'new'): void => {
    sources[record.source] ??= { records: 0, accepted: 0 };
    sources[record.source].records++;
    const c = candidateOf(record, origin, opts, labelSet, note);
    if (!c) return;
    const key = textKey(c.text);
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push(c);
  };
  for (const r of previous) take(r, 'previous');
  for (const r of fresh) take(r, 'new');

  const rows: LabeledRow[] = [];
  for (const [key, group] of byKey) {
    const chosen = chooseAmongCopies(group, note);
    // Copies inside the previous set were deduplicated when it was written; any left are silent.
    if (!chosen) continue;
    sources[chosen.record.source].accepted++;
    rows.push({ key, id: chosen.id ?? key, text: chosen.text, labels: chosen.labels, origin: chosen.origin });
  }

  // Counted in a Map: on a plain object a label named __proto__ vanished and one named constructor counted from a function.
  const counts = new Map<string, number>((labelSet.known ?? []).map((l) => [l, 0]));
  for (const r of rows) for (const l of r.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const labelCounts: Record<string, number> = Object.fromEntries(counts);
  // An open label set is ordered by frequency, so output columns are stable for a given data set.
  const labels = labelSet.known ?? [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
  return {
    rows,
    labels,
    report: {
      sources,
      ...found,
      accepted: rows.length,
      rejected: rejects.length,
      previousRows: rows.filter((r) => r.origin === 'previous').length,
      newRows: rows.filter((r) => r.origin === 'new').length,
      labelsAdded: labelSet.added,
      labelCounts,
    },
    rejects,
  };
}

/** Adds a finding to a report, listing at most `cap` per kind; the tokenizer's come later, once it is known. */
export function noteIssue(report: Pick<DataReport, 'counts' | 'issues' | 'omitted'>, issue: DataIssue, cap = 200): void {
  const counts = report.counts as Record<string, number>;
  counts[issue.kind] = (counts[issue.kind] ?? 0) + 1;
  if (counts[issue.kind] > cap) {
    const omitted = report.omitted as Record<string, number>;
    omitted[issue.kind] = (omitted[issue.kind] ?? 0) + 1;
  } else report.issues.push(issue);
}

/** The report as text; `maxIssues` caps the listed issues (the counts are always complete). */
export function formatDataReport(report: DataReport, maxIssues = Infinity): string {
  const lines = [
    `data: ${report.accepted} rows accepted (${report.previousRows} previous, ${report.newRows} new), ${report.rejected} records rejected`,
  ];
  for (const kind of ISSUE_KINDS) {
    const n = report.counts[kind];
    if (n) lines.push(`  ${kind}: ${n} (${ISSUE_EFFECT[kind]})`);
  }
  for (const i of report.issues.slice(0, maxIssues)) lines.push(`  - ${i.source}${i.position === undefined ? '' : `:${i.position}`}: ${i.kind}: ${i.detail}`);
  const unlisted = Math.max(0, report.issues.length - maxIssues) + Object.values(report.omitted).reduce((a, b) => a + (b ?? 0), 0);
  if (unlisted > 0) lines.push(`  … and ${unlisted} more (see the run report)`);
  return lines.join('\n');
}

export function rowToJson(row: LabeledRow): string {
  return JSON.stringify({ id: row.id, text: row.text, labels: row.labels });
}
