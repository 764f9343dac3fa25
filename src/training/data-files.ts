/**
 * Reading labeled data files: which files a --data path names, and their
 * lines, checked to be UTF-8. What a line means is data.ts's business.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { LivetagError } from '../common/errors.ts';
import type { RawRecord } from './data.ts';

/**
 * A path that does not exist is a mistyped argument (exit 2, like `classify`), not a data set
 * with no usable rows (exit 3); other failures (permissions) stay LT_DATA.
 */
export function unreadablePath(path: string, cause: NodeJS.ErrnoException): LivetagError {
  if (cause.code === 'ENOENT') return new LivetagError('LT_USAGE', `${path}: no such file or directory`, { cause });
  return new LivetagError('LT_DATA', `${path}: cannot be read (${cause.code ?? 'error'})`, { cause });
}

const DATA_FILE = /\.(jsonl|ndjson)$/i;

/** JSONL files, or every *.jsonl / *.ndjson file in a directory (any case, sorted, not recursive; folders skipped). */
export async function listDataFiles(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    throw unreadablePath(path, cause as NodeJS.ErrnoException);
  }
  if (!info.isDirectory()) return [path];
  const files: string[] = [];
  for (const name of (await readdir(path)).filter((n) => DATA_FILE.test(n)).sort()) {
    if ((await stat(join(path, name)).catch(() => undefined))?.isFile()) files.push(join(path, name));
  }
  // An empty drop folder is no error: the labels topic and the base's rows may still make a run.
  return files;
}

/** Where a chunk stops being UTF-8 (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF), to name the line. */
function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const extra = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (extra < 0) return i;
    // The second byte's range where the lead allows less than 0x80–0xBF.
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    if (extra > 0 && i + 1 < b.length && (b[i + 1] < lo || b[i + 1] > hi)) return i;
    for (let k = 2; k <= extra && i + k < b.length; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += extra + 1;
  }
  // A sequence cut at the chunk's end: the next chunk holds the rest of it.
  return b.length;
}

/**
 * The non-empty lines of a JSONL file (ended by LF, CRLF or CR, as readline
 * splits them). UTF-8 only, checked: another encoding (GBK, common for
 * Chinese exports) decoded leniently turns every character into U+FFFD, and
 * distinct texts then collapse into one. A leading BOM is dropped, not left to
 * make line 1 invalid JSON.
 */
export async function* readJsonlRecords(file: string, sourceName = file): AsyncGenerator<RawRecord> {
  let failure: unknown;
  const decoded = Readable.from(decodeStrictly(file, sourceName), { objectMode: false, encoding: 'utf8' }).on('error', (err) => (failure = err));
  const lines = createInterface({ input: decoded, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() !== '') yield { source: sourceName, position: n, value: line };
    }
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) throw failure;
}

/** The file's text, chunk by chunk; LT_DATA naming the byte and line where it stops being UTF-8. */
async function* decodeStrictly(file: string, sourceName: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let bytes = 0;
  let lines = 1;
  const fail = (cause: unknown, chunk?: Buffer): never => {
    const at = chunk ? Math.min(firstInvalidUtf8(chunk), chunk.length) : 0;
    const line = lines + (chunk ? chunk.subarray(0, at).filter((b) => b === 0x0a).length : 0);
    throw new LivetagError('LT_DATA', `${sourceName}: not UTF-8 (byte ${bytes + at}, line ${line}); convert it first, e.g. iconv -f GBK -t UTF-8`, { cause });
  };
  let stream: AsyncIterable<Buffer>;
  try {
    stream = createReadStream(file);
    for await (const chunk of stream) {
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch (cause) {
        return fail(cause, chunk);
      }
      bytes += chunk.length;
      lines += chunk.filter((b) => b === 0x0a).length;
      if (text) yield text;
    }
  } catch (cause) {
    if (cause instanceof LivetagError) throw cause;
    throw unreadablePath(file, cause as NodeJS.ErrnoException);
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch (cause) {
    return fail(cause);
  }
  if (tail) yield tail;
}
