import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { parseRegistryRef, resolveModelRef } from '../../../src/model/registry/model-ref.ts';
import { createModelRegistry } from '../../../src/model/registry/registry.ts';
import { REPO_ROOT, tempDir } from '../../helpers/shared.ts';

const root = tempDir('livetag-model-ref-');
const bundle = join(root, 'bundle-dir');
const run = join(root, 'run');
const registryDir = join(root, 'registry');
let version = '';

test.before(async () => {
  await writeRandomBundle(bundle, { shape: 'tiny' });
  await writeRandomBundle(join(run, 'bundle'), { shape: 'tiny', seed: 7 });
  const registry = createModelRegistry(registryDir);
  version = await registry.publish(bundle);
  await registry.promote(version);
});

async function refError(ref: string, pattern: RegExp): Promise<void> {
  await assert.rejects(resolveModelRef(ref), (err) => isLivetagError(err, 'LT_BUNDLE_MISSING_FILE') && err.message.startsWith(`${ref}: `) && pattern.test(err.message));
}

test('a bundle directory resolves to itself, a run directory to its bundle/', async () => {
  assert.equal(await resolveModelRef(bundle), bundle);
  assert.equal(await resolveModelRef(run), join(run, 'bundle'));
  assert.equal(await resolveModelRef(join(run, 'bundle')), join(run, 'bundle'));
});

test('<registry-dir>@<version> and @current resolve to the registry version', async () => {
  const dir = join(registryDir, 'versions', version);
  assert.equal(await resolveModelRef(`${registryDir}@${version}`), dir);
  assert.equal(await resolveModelRef(`${registryDir}@current`), dir);
});

test('what is no model fails naming the ref', async () => {
  await refError(join(root, 'missing'), /not a model: no manifest\.json or bundle\/manifest\.json/);
  await refError(root, /not a model/);
  await refError(`${registryDir}@v-nope`, /has no version "v-nope"/);
  await refError(`${join(root, 'no-registry')}@current`, /no model registry at/);
  const empty = join(root, 'empty-registry');
  mkdirSync(empty);
  await refError(`${empty}@current`, /no current model/);
});

test('an existing directory with @ in its name is a path, not a registry ref', async () => {
  const odd = join(root, 'model@2');
  await writeRandomBundle(odd, { shape: 'tiny' });
  assert.equal(await resolveModelRef(odd), odd);
  assert.deepEqual(parseRegistryRef('models/registry@v3'), { root: 'models/registry', version: 'v3' });
  assert.equal(parseRegistryRef('@v3'), undefined);
  assert.equal(parseRegistryRef('a@b/c'), undefined);
  assert.equal(parseRegistryRef('plain/dir'), undefined);
});

test('livetag classify takes a registry ref and a run directory as --model', () => {
  for (const model of [`${registryDir}@current`, run]) {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/livetag.js'), 'classify', '--model', model], { input: '这个多少钱\n', encoding: 'utf8', cwd: REPO_ROOT });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).text, '这个多少钱');
  }
});
