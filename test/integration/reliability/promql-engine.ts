/**
 * Prometheus' own PromQL engine for the alert tests: promql-eval/ (a small Go
 * program on github.com/prometheus/prometheus, the module version
 * scripts/helm-tools already pins) built once per source change into
 * .cache/promql-eval, the way scripts/ensure-helm.ts builds helm-tools.
 * The real engine rather than a hand-written evaluator: the shipped alerts use
 * subqueries, deriv, rate, absent, `or`/`unless` and aggregations, whose exact
 * semantics (lookback, extrapolation, vector matching) are what is under test.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkGo, runCommand } from '../../../scripts/ensure-helm.ts';
import { REPO_ROOT } from '../../helpers/shared.ts';

const SOURCE = path.join(REPO_ROOT, 'test', 'integration', 'reliability', 'promql-eval');
const CACHE = path.join(REPO_ROOT, '.cache', 'promql-eval');

export interface AlertRule {
  readonly name: string;
  readonly expr: string;
  readonly for?: string;
}

export interface Scrape {
  readonly atMs: number;
  readonly text: string;
}

export interface RuleOutcome {
  readonly name: string;
  readonly steps: ReadonlyArray<{ atMs: number; value: number | null; error?: string }>;
  /** When the alert would fire: its expression returned something at every evaluation for `for`; null: never. */
  readonly firingAtMs: number | null;
}

/** Path of the promql-eval binary; GoMissingError (scripts/ensure-helm.ts) without Go. */
export async function ensurePromqlEval(log: (m: string) => void = () => {}): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(f).update(fs.readFileSync(path.join(SOURCE, f)));
  const bin = path.join(CACHE, `promql-eval-${hash.digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  await checkGo();
  fs.mkdirSync(CACHE, { recursive: true });
  log('building promql-eval with Prometheus from the Go module proxy (one-time per source change; minutes on a cold Go cache)');
  const tmp = `${bin}.tmp-${process.pid}`;
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: [process.env.GOFLAGS, '-modcacherw'].filter(Boolean).join(' ') };
  const r = await runCommand('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: SOURCE, env });
  if (r.code !== 0) throw new Error(`go build promql-eval failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
  // Another test process may have built the same source meanwhile: same bytes, either wins.
  fs.renameSync(tmp, bin);
  return bin;
}

/** Evaluates `rules` every `evalEveryMs` from `fromMs` to `toMs` over the scrapes, with `target` labels added as a scrape would. */
export async function evaluateRules(
  bin: string,
  input: { scrapes: readonly Scrape[]; target: Record<string, string>; rules: readonly AlertRule[]; fromMs: number; toMs: number; evalEveryMs: number },
): Promise<RuleOutcome[]> {
  const r = await runCommand(bin, [], { input: JSON.stringify(input) });
  if (r.code !== 0) throw new Error(`promql-eval failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as RuleOutcome[];
}
