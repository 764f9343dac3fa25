/**
 * Reading the local broker's own log: a dead broker is explained by lines in
 * it, so every failure message quotes the part that matters.
 */
import fs from 'node:fs';

/** Written before each JVM start, so a log kept across runs can be cut to the last one. */
export const START_MARK = '--- broker start ';

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * What explains a dead broker: its first ERROR lines (the cause, e.g. a port in
 * use, usually comes before pages of shutdown INFO) and then the log's tail.
 */
export function failureReport(file: string): string {
  const text = readEnd(file, 256 * 1024);
  // A kept --dir appends every run to one log: only this run's lines count.
  const lines = text.slice(Math.max(0, text.lastIndexOf(START_MARK))).trimEnd().split('\n');
  const errors = lines.filter((l) => /\b(ERROR|FATAL)\b/.test(l)).slice(0, 8);
  return [
    ...(errors.length > 0 ? [`--- ${file} (errors) ---`, ...errors.map((l) => l.slice(0, 2000))] : []),
    `--- ${file} (tail) ---`,
    ...lines.slice(-25),
  ].join('\n');
}

function readEnd(file: string, bytes: number): string {
  try {
    const stat = fs.statSync(file);
    const size = Math.min(stat.size, bytes);
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size);
      fs.readSync(fd, buf, 0, size, stat.size - size);
      return buf.toString('utf8');
    } catch {
      return '(broker log unreadable)';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '(no broker log)';
  }
}
