import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBertConfig, type BertConfig } from '../../src/model/bert-config.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** ../shared beside the checkout (or LIVETAG_SHARED), read in place. */
export const SHARED_DIR = process.env.LIVETAG_SHARED ?? resolve(REPO_ROOT, '../shared');

/** The path of a ../shared item, or undefined with the reason a test should skip. */
export function sharedPath(rel: string): { path?: string; skip?: string } {
  const p = join(SHARED_DIR, rel);
  return existsSync(p) ? { path: p } : { skip: `${p} absent: ../shared is not beside this checkout` };
}

/** A temporary directory removed when the test process exits. */
export function tempDir(prefix = 'livetag-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A one-layer BERT small enough to train in a unit test; fields given override the defaults. */
export function tinyBertConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return parseBertConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 16, typeVocabSize: 2, numLabels: 3, layerNormEps: 1e-12, ...overrides });
}

/**
 * A chunk of node's test runner's own report. In a file run by `node --test`
 * it reaches the parent as v8-serialized messages on stdout (each starts
 * 0xFF 0x0F), through the very write a capture replaces: swallowed, the
 * file's results, failures included, never reach the runner.
 */
function isTestRunnerReport(chunk: unknown): boolean {
  return chunk instanceof Uint8Array && chunk.length > 1 && chunk[0] === 0xff && chunk[1] === 0x0f;
}

/** Runs fn with stdout and stderr captured (CLI tests); the test runner's report passes through. */
export async function captureOutput(fn: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const text = (chunk: string | Uint8Array): string => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    isTestRunnerReport(chunk) ? (writes.stdout as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest) : ((out.stdout += text(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((out.stderr += text(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}
