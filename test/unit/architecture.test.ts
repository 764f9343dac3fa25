/**
 * The shape of src/, checked on every run so it cannot drift: layers without
 * import cycles, one module per outside thing, the serving path free of
 * model-building code, and files and functions small enough to read.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/shared.ts';

const SRC = join(REPO_ROOT, 'src');
const MAX_FILE_LINES = 360;
const MAX_FUNCTION_LINES = 80;
/** A function may run longer when a comment right above it says why. */
const LONG_REASON = /long-function:/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const files = sourceFiles(SRC);
const rel = (f: string): string => relative(REPO_ROOT, f);

interface Imports {
  readonly local: string[];
  readonly packages: string[];
  /** Local modules loaded only through `await import()` (lazily, on demand). */
  readonly lazy: string[];
}

function importsOf(file: string): Imports {
  const text = readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  const lazy: string[] = [];
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const add = (spec: string, isLazy: boolean): void => {
    if (spec.startsWith('.')) (isLazy ? lazy : local).push(resolve(dirname(file), spec));
    else if (!spec.startsWith('node:')) packages.push(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node) ? Boolean(node.importClause?.isTypeOnly) : node.isTypeOnly;
      if (!typeOnly) add(node.moduleSpecifier.text, false);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { local, packages, lazy };
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('src has no import cycles', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const walk = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(' -> '));
      return;
    }
    state.set(f, 'open');
    for (const next of graph.get(f)?.local ?? []) walk(next, [...path, f]);
    state.set(f, 'done');
  };
  for (const f of files) walk(f, []);
  assert.deepEqual(cycles, []);
});

test('each outside library is imported by the one module that owns it', () => {
  const owners: Record<string, (f: string) => boolean> = {
    kafkajs: (f) => rel(f).startsWith('src/kafka/kafkajs-'),
    '@confluentinc/kafka-javascript': (f) => rel(f) === 'src/kafka/confluent-adapter.ts',
    'onnxruntime-node': (f) => rel(f).startsWith('src/model/runtime/'),
    '@tensorflow/tfjs-core': (f) => rel(f).startsWith('src/training/'),
    '@tensorflow/tfjs': (f) => rel(f).startsWith('src/training/'),
    'prom-client': (f) => rel(f).startsWith('src/consumer/'),
    tokenizers: (f) => rel(f) === 'src/model/tokenizer.ts',
    'onnx-proto': (f) => rel(f).startsWith('src/model/'),
  };
  const wrong: string[] = [];
  for (const [f, imports] of graph) {
    for (const p of imports.packages) if (owners[p] && !owners[p](f)) wrong.push(`${rel(f)} imports ${p}`);
  }
  assert.deepEqual(wrong, []);
});

test('the serving path does not load model-building or training code', () => {
  const seen = new Set<string>();
  const visit = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const next of graph.get(f)?.local ?? []) visit(next);
  };
  visit(join(SRC, 'consumer/stream-service.ts'));
  const loaded = [...seen].map(rel);
  assert.deepEqual(loaded.filter((f) => f.startsWith('src/model/build/') || f.startsWith('src/training/') || f.startsWith('src/dev/')), []);
  assert.ok(loaded.includes('src/model/runtime/classifier.ts'), 'the walk reached the model runtime');
});

test(`no source file is over ${MAX_FILE_LINES} lines`, () => {
  const long = files.map((f) => [rel(f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > MAX_FILE_LINES);
  assert.deepEqual(long, []);
});

/** Lines of a function's own body, not counting the functions nested in it (a factory's closures are measured on their own). */
function ownLines(sf: ts.SourceFile, fn: ts.FunctionLikeDeclaration): number {
  const lineOf = (pos: number): number => sf.getLineAndCharacterOfPosition(pos).line;
  const body = fn.body;
  if (!body) return 0;
  let lines = lineOf(body.getEnd()) - lineOf(body.getStart(sf)) + 1;
  const subtract = (node: ts.Node): void => {
    if (node !== body && ts.isFunctionLike(node) && 'body' in node && node.body && ts.isBlock(node.body as ts.Node)) {
      lines -= lineOf(node.getEnd()) - lineOf(node.getStart(sf)) + 1;
      return;
    }
    ts.forEachChild(node, subtract);
  };
  ts.forEachChild(body, subtract);
  return lines;
}

test(`no function is over ${MAX_FUNCTION_LINES} lines without a stated reason`, () => {
  const long: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const sf = ts.createSourceFile(f, text, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const n = ownLines(sf, node as ts.FunctionLikeDeclaration);
        const above = text.slice(Math.max(0, node.getFullStart()), node.getStart(sf));
        if (n > MAX_FUNCTION_LINES && !LONG_REASON.test(above)) {
          const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
          long.push(`${rel(f)}:${line} (${n} lines)`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  assert.deepEqual(long, []);
});
