/**
 * Reading labeled data files: which files a --data path names, and their
 * lines, checked to be UTF-8. What a line means is data.ts's business.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
  if (files.length === 0) throw new LivetagError('LT_DATA', `${path}: a folder with no *.jsonl or *.ndjson file in it`);
  return files;
}

/** Where a chunk stops being UTF-8, to name the line; a sequence cut at the chunk's end is left to the next. */
function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const extra = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (extra < 0) return i;
    for (let k = 1; k <= extra && i + k < b.length; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += extra + 1;
  }
  return 0;
}

/**
 * The non-empty lines of a JSONL file. UTF-8 only, checked: another encoding
 * (GBK, common for Chinese exports) decoded leniently turns every character
 * into U+FFFD, and distinct texts then collapse into one. A leading BOM is dropped,
 * not left to make line 1 invalid JSON.
 */
export async function* readJsonlRecords(file: string, sourceName = file): AsyncGenerator<RawRecord> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let n = 0;
  let bytes = 0;
  let rest = '';
  const decode = (chunk?: Buffer): string => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch (cause) {
      const at = chunk ? firstInvalidUtf8(chunk) : 0;
      const line = n + 1 + (chunk ? chunk.subarray(0, at).filter((b) => b === 0x0a).length : 0);
      throw new LivetagError('LT_DATA', `${sourceName}: not UTF-8 (byte ${bytes + at}, line ${line}); convert it first, e.g. iconv -f GBK -t UTF-8`, { cause });
    }
  };
  const lines = function* (text: string, last: boolean): Generator<RawRecord> {
    let start = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
      n++;
      const line = text.slice(start, i > start && text[i - 1] === '\r' ? i - 1 : i);
      start = i + 1;
      if (line.trim() !== '') yield { source: sourceName, position: n, value: line };
    }
    rest = text.slice(start);
    if (last && rest.trim() !== '') yield { source: sourceName, position: ++n, value: rest.replace(/\r$/, '') };
  };
  let stream;
  try {
    stream = createReadStream(file);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = rest + decode(chunk);
      bytes += chunk.length;
      yield* lines(text, false);
    }
  } catch (cause) {
    if (cause instanceof LivetagError) throw cause;
    throw unreadablePath(file, cause as NodeJS.ErrnoException);
  }
  yield* lines(rest + decode(), true);
}
