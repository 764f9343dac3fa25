import { readFileSync, readdirSync } from 'node:fs';

/** Linux clock ticks per second for /proc CPU times (USER_HZ; 100 on every mainstream kernel). */
const HZ = 100;

export interface ProcSample {
  /** user + system CPU seconds of the whole process, every thread. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / HZ;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { cpuSeconds, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}

/** CPU seconds per thread name (comm) of a process: where its time goes. */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        // The main thread (tid = pid) apart: in livetag it runs Kafka, JSON, batching and publishing; the model runs elsewhere.
        const comm = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '#');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / HZ;
      } catch {
        // The thread ended between listing and reading.
      }
    }
  } catch {
    // The process ended.
  }
  return out;
}

export interface Watch {
  /** CPU seconds used since start, peak RSS seen, wall seconds. */
  stop(): { cpuSeconds: number; cpuShare: number; peakRssBytes: number; wallSeconds: number; threads: Record<string, number> };
}

/** Samples a process every 200 ms (peak RSS) and reports its CPU use over the window. */
export function watchProcess(pid: number): Watch {
  const first = sampleProcess(pid);
  const firstThreads = threadCpu(pid);
  const start = performance.now();
  let peak = first?.rssBytes ?? 0;
  const timer = setInterval(() => {
    const s = sampleProcess(pid);
    if (s) peak = Math.max(peak, s.rssBytes);
  }, 200);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const last = sampleProcess(pid);
      if (last) peak = Math.max(peak, last.rssBytes);
      const wallSeconds = (performance.now() - start) / 1000;
      const cpuSeconds = last && first ? last.cpuSeconds - first.cpuSeconds : 0;
      const now = threadCpu(pid);
      const threads = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (firstThreads[k] ?? 0)]).filter(([, v]) => (v as number) > 0.005));
      return { cpuSeconds, cpuShare: cpuSeconds / wallSeconds, peakRssBytes: peak, wallSeconds, threads };
    },
  };
}
