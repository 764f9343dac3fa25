/**
 * The local broker's processes: the one-shot storage format, the broker JVM
 * itself and the watchdog that ends it if Node dies first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { LivetagError } from '../common/errors.ts';
import type { JvmLaunch } from './broker-config.ts';
import { START_MARK, tail } from './broker-log.ts';

type Log = { info(message: string): void; warn(message: string): void };

export type Jvm = {
  readonly child: ChildProcess;
  /** Settles once the JVM has exited or could not be spawned; never rejects. */
  readonly exited: Promise<void>;
  /** Why it is gone, once it is. */
  exitReason(): string | undefined;
};

export function startCancelled(): LivetagError {
  return new LivetagError('LT_BROKER', 'local Kafka start cancelled by stop()');
}

/** In the broker's directory, beside data/: how livetag formatted it. */
const FORMAT_MARKER = 'livetag-format.json';

/**
 * KRaft refuses to start on an unformatted log dir. Formatting writes
 * meta.properties (cluster id, node id) and the bootstrap metadata, once per
 * directory; a kept directory skips it.
 */
export async function formatStorage(
  launch: JvmLaunch,
  dir: string,
  logFile: string,
  cancel: AbortSignal,
  logger: Log,
  extraArgs: readonly string[] = [],
): Promise<void> {
  const marker = path.join(dir, FORMAT_MARKER);
  const secure = extraArgs.includes('--add-scram');
  if (fs.existsSync(path.join(dir, 'data', 'meta.properties'))) {
    // SCRAM users are written at format time only: a kept directory formatted without them would
    // start a secure broker no client can log in to, seen as "not reachable" after the whole wait.
    // A directory from before the marker may well be secure (its secrets/ kept): refuse only on the marker's word.
    const formattedPlain = fs.existsSync(marker) && (JSON.parse(fs.readFileSync(marker, 'utf8')) as { secure?: boolean }).secure === false;
    if (secure && formattedPlain) throw new LivetagError('LT_BROKER', `${dir} was formatted without --secure (no SCRAM users): give a new --dir for a secure broker, or delete this one`);
    return;
  }
  const t0 = Date.now();
  // base64url ids may start with '-' (one in 64): passed as --cluster-id=<id>
  // so the tool's argument parser cannot take one for an option.
  const clusterId = randomBytes(16).toString('base64url');
  const args = [...launch.args, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', launch.configFile, '--ignore-formatted', ...extraArgs];
  const fmt = await runToEnd(launch.java, args, cancel);
  fs.appendFileSync(logFile, `--- storage format ---\n${fmt.output}`);
  if (cancel.aborted) throw startCancelled();
  if (fmt.failure !== undefined) {
    throw new LivetagError('LT_BROKER', `kafka storage format failed (${fmt.failure}):\n${tail(fmt.output, 30)}`);
  }
  fs.writeFileSync(marker, JSON.stringify({ secure }) + '\n');
  logger.info(`formatted ${path.join(dir, 'data')} in ${Date.now() - t0} ms (cluster ${clusterId})`);
}

/**
 * Starts the broker JVM with its stdout and stderr appended to `logFile`.
 * `onGone` runs once, after `exited` settles: 'exit' when the JVM ended,
 * 'error' when it could not be spawned.
 */
export function spawnJvm(launch: JvmLaunch, dir: string, logFile: string, onGone: (how: 'exit' | 'error') => void): Jvm {
  fs.appendFileSync(logFile, `${START_MARK}${new Date().toISOString()} ---\n`);
  const out = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(launch.java, [...launch.args, 'kafka.Kafka', launch.configFile], {
      stdio: ['ignore', out, out],
      cwd: dir,
      // Its own process group: a terminal ^C goes to us, and we stop the
      // broker in order, instead of the JVM racing our shutdown on its own.
      detached: true,
    });
  } finally {
    fs.closeSync(out);
  }
  let reason: string | undefined;
  const dog = child.pid === undefined ? undefined : startWatchdog(child.pid);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      reason = `broker JVM exited (${signal ?? `code ${code}`})`;
      dog?.kill('SIGKILL');
      resolve();
      onGone('exit');
    });
    child.once('error', (err) => {
      reason = `cannot run ${launch.java}: ${err.message}`;
      dog?.kill('SIGKILL');
      resolve();
      onGone('error');
    });
  });
  return { child, exited, exitReason: () => reason };
}

/** Signals the JVM and waits for it to exit; after SIGTERM, SIGKILLs it if it takes longer than `timeoutMs`. */
export async function stopJvm(jvm: Jvm, signal: 'SIGTERM' | 'SIGKILL', timeoutMs: number, logger: Log): Promise<void> {
  const { child } = jvm;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (signal === 'SIGKILL') return jvm.exited;
  const timer = setTimeout(() => {
    logger.warn(`broker did not stop within ${timeoutMs} ms of SIGTERM; sending SIGKILL`);
    child.kill('SIGKILL');
  }, timeoutMs);
  try {
    await jvm.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * If this Node process dies without stopping the broker (SIGKILL, a crash, a CI
 * timeout), the JVM would outlive it and hold its ports. A tiny shell reads its
 * stdin, a pipe from us, until EOF — which comes when we die — then SIGTERMs
 * the JVM. The pipe is unref'd so it never keeps Node alive.
 */
function startWatchdog(jvmPid: number): ChildProcess | undefined {
  try {
    const dog = spawn('/bin/sh', ['-c', 'while read -r _; do :; done; kill -TERM "$0" 2>/dev/null', String(jvmPid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Its own process group: a terminal ^C must not take the watchdog down
      // before the broker has been stopped.
      detached: true,
    });
    dog.on('error', () => {});
    dog.unref();
    (dog.stdin as unknown as net.Socket | null)?.unref();
    return dog;
  } catch {
    return undefined;
  }
}

/** Runs a short-lived command (no shell), collecting its output; `failure` is unset on exit 0. */
function runToEnd(command: string, args: string[], cancel: AbortSignal): Promise<{ output: string; failure?: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: cancel, timeout: 120_000 });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => resolve({ output, failure: err.message }));
    child.once('close', (code, signal) =>
      resolve(code === 0 ? { output } : { output, failure: signal ? `killed by ${signal}` : `exit ${code}` }),
    );
  });
}
