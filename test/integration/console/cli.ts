import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from '../../helpers/shared.ts';

export interface Running {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: () => boolean;
  readonly kill: (signal: NodeJS.Signals) => void;
  readonly done: Promise<number | null>;
}

/** `livetag <args>` as its own process, output collected, killed when the test ends. */
export function runLivetag(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/livetag.js'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(() => void child.kill('SIGKILL'));
  return { stdout: () => stdout, stderr: () => stderr, exited: () => child.exitCode !== null, kill: (s) => void child.kill(s), done };
}
