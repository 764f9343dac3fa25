/**
 * Progress for long phases on stderr: a redrawn bar on a terminal, and on a
 * scheduler's log (not a TTY) a line every tenth of the way or every 30 s,
 * so logs show the job is alive without a line per step.
 */
export interface Progress {
  tick(done: number, note?: string): void;
  finish(note?: string): void;
}

export interface ProgressSink {
  readonly isTTY: boolean;
  write(text: string): void;
}

const stderrSink: ProgressSink = {
  get isTTY() {
    return Boolean(process.stderr.isTTY);
  },
  write: (text) => void process.stderr.write(text),
};

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function createProgress(label: string, total: number, sink: ProgressSink = stderrSink, quiet = false): Progress {
  const started = Date.now();
  let lastLine = started;
  let lastTenth = -1;
  let lastDraw = 0;
  const line = (done: number, note?: string): string => {
    const elapsed = (Date.now() - started) / 1000;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : Infinity;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    return `${label} ${bar} ${done}/${total} ${clock(elapsed)} eta ${clock(eta)}${note ? `  ${note}` : ''}`;
  };
  return {
    tick(done, note) {
      if (quiet) return;
      const now = Date.now();
      if (sink.isTTY) {
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        sink.write(`\r\x1b[2K${line(done, note)}`);
        return;
      }
      const tenth = total > 0 ? Math.floor((10 * done) / total) : 10;
      if (tenth > lastTenth || now - lastLine > 30_000) {
        lastTenth = tenth;
        lastLine = now;
        sink.write(`${line(done, note)}\n`);
      }
    },
    finish(note) {
      if (quiet) return;
      sink.write(`${sink.isTTY ? '\r\x1b[2K' : ''}${line(total, note)}\n`);
    },
  };
}
