/**
 * helm/livetag/files/retrain.sh, the retrain CronJob's command, run with /bin/sh
 * against a stub `livetag` that records its calls: which base it trains from,
 * and that only a promoted challenger is published, promoted and pruned.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/shared.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../../helm/livetag/files/retrain.sh');

const STUB = `#!/bin/sh
echo "$*" >> "$STUB_LOG"
case "$1" in
  train)
    if [ -n "\${STUB_REJECTED:-}" ]; then
      while [ "$#" -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
      mkdir -p "$out" && printf '%s\\n' '{"kind":"invalid-json","value":"x"}' '{"kind":"unknown-label","value":"y"}' > "$out/rejected.jsonl"
    fi
    if [ -n "\${STUB_TRAIN_EXIT:-}" ]; then echo "training failed" >&2; exit "$STUB_TRAIN_EXIT"; fi
    echo "\${STUB_DECISION}: reason"
    echo "{\\"decision\\":\\"\${STUB_DECISION}\\",\\"metric\\":\\"macro_f1\\"}" ;;
  pretrain)
    if [ -n "\${STUB_PRETRAIN_EXIT:-}" ]; then echo "no texts" >&2; exit "$STUB_PRETRAIN_EXIT"; fi
    while [ "$#" -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
    mkdir -p "$out/bundle" "$out/mlm-head" && echo '{"head":"encoder"}' > "$out/bundle/manifest.json" ;;
  optimize) ;;
  models)
    case "$2" in
      publish) echo "published v42" ;;
      promote) echo "current: $3"; echo "promote-brokers=[\${LIVETAG_KAFKA_BROKERS}]" >> "$STUB_LOG" ;;
      prune) echo "nothing to remove" ;;
    esac ;;
esac
`;

interface Run {
  status: number | null;
  stdout: string;
  calls: string[];
}

function retrain(opts: { champion?: boolean; current?: boolean; encoderDaysOld?: number; decision?: string; trainExit?: number; pretrainExit?: number; env?: Record<string, string>; args?: string[]; setup?: (registry: string) => void }): Run & { registry: string } {
  const dir = tempDir('livetag-retrain-');
  const bin = path.join(dir, 'bin');
  const registry = path.join(dir, 'models');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'livetag'), STUB, { mode: 0o755 });
  if (opts.champion) {
    fs.mkdirSync(path.join(registry, 'champion', 'bundle'), { recursive: true });
    fs.writeFileSync(path.join(registry, 'champion', 'bundle', 'manifest.json'), '{}');
  }
  if (opts.current) {
    fs.mkdirSync(path.join(registry, 'current'), { recursive: true });
    fs.writeFileSync(path.join(registry, 'current', 'manifest.json'), '{}');
  }
  if (opts.encoderDaysOld !== undefined) {
    const manifest = path.join(registry, 'encoder', 'bundle', 'manifest.json');
    fs.mkdirSync(path.dirname(manifest), { recursive: true });
    fs.writeFileSync(manifest, '{"head":"encoder","version":"before"}');
    const when = new Date(Date.now() - opts.encoderDaysOld * 86_400_000);
    fs.utimesSync(manifest, when, when);
  }
  opts.setup?.(registry);
  fs.mkdirSync(path.join(dir, 'scratch'));
  const log = path.join(dir, 'calls.log');
  const r = spawnSync('/bin/sh', [SCRIPT, ...(opts.args ?? ['--backend', 'auto'])], {
    encoding: 'utf8',
    env: {
      PATH: `${bin}:/usr/bin:/bin`,
      STUB_LOG: log,
      STUB_DECISION: opts.decision ?? 'kept',
      ...(opts.trainExit ? { STUB_TRAIN_EXIT: String(opts.trainExit) } : {}),
      ...(opts.pretrainExit ? { STUB_PRETRAIN_EXIT: String(opts.pretrainExit) } : {}),
      LIVETAG_REGISTRY: registry,
      LIVETAG_KAFKA_BROKERS: 'kafka:9092',
      LIVETAG_LABELS_TOPIC: 'livetag.labels',
      LIVETAG_LABELS_GROUP: 'livetag-train',
      LIVETAG_TRAIN_OUT: path.join(dir, 'scratch', 'run'),
      LIVETAG_KEEP_VERSIONS: '3',
      ...opts.env,
    },
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: r.status, stdout: r.stdout + r.stderr, calls, registry };
}

test('first run, nothing promoted yet: trains from scratch on the labels topic and keeps the champion', () => {
  const r = retrain({ decision: 'kept' });
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.calls.length, 1, r.calls.join('\n'));
  const train = r.calls[0];
  assert.match(train, /^train --backend auto --out \S+\/scratch\/run --promote-to \S+\/models\/champion --labels-topic livetag\.labels --labels-group livetag-train --kafka-brokers kafka:9092$/);
  assert.doesNotMatch(train, /--base/);
  assert.match(r.stdout, /"decision":"kept"/);
  assert.match(r.stdout, /retrain: champion kept/);
});

test('a promoted challenger is optimized, published, promoted (announced) and old versions pruned', () => {
  const r = retrain({ champion: true, decision: 'promoted' });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.calls[0], new RegExp(`--base ${r.registry}/champion`));
  const scratch = r.calls[0].match(/--out (\S+)\/run /)![1];
  assert.deepEqual(r.calls.slice(1), [
    // No training texts in the stub's run directory: optimize falls back to generated comments.
    `optimize --model ${r.registry}/champion/bundle --out ${scratch}/optimized`,
    `models publish ${scratch}/optimized`,
    'models promote v42',
    'promote-brokers=[kafka:9092]',
    'models prune --keep 3',
  ]);
  assert.match(r.stdout, /retrain: promoted v42/);
});

test('variants are checked on the given texts, or skipped with LIVETAG_OPTIMIZE=false', () => {
  const withTexts = retrain({ champion: true, decision: 'promoted', env: { LIVETAG_OPTIMIZE_TEXTS: SCRIPT } });
  assert.equal(withTexts.status, 0, withTexts.stdout);
  assert.match(withTexts.calls[1], new RegExp(`^optimize --model \\S+ --out \\S+/optimized --texts ${SCRIPT}$`));
  const off = retrain({ champion: true, decision: 'promoted', env: { LIVETAG_OPTIMIZE: 'false' } });
  assert.equal(off.status, 0, off.stdout);
  assert.equal(off.calls[1], `models publish ${off.registry}/champion/bundle`);
  assert.ok(!off.calls.some((c) => c.startsWith('optimize')), off.calls.join('\n'));
});

test('a registry seeded by hand: the first run starts from its current version', () => {
  const r = retrain({ current: true });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.calls[0], new RegExp(`--base ${r.registry}/current`));
});

test('without Kafka announcements (SASL/TLS clusters) the promotion is left to the replicas polling the registry', () => {
  const r = retrain({ champion: true, decision: 'promoted', env: { LIVETAG_ANNOUNCE: 'false' } });
  assert.equal(r.status, 0, r.stdout);
  assert.ok(r.calls.includes('promote-brokers=[]'), r.calls.join('\n'));
});

test('no labels topic: trains on --data alone', () => {
  const r = retrain({ env: { LIVETAG_LABELS_TOPIC: '' }, args: ['--data', '/models/data/extra.jsonl'] });
  assert.equal(r.status, 0, r.stdout);
  assert.doesNotMatch(r.calls[0], /--labels-topic/);
  assert.match(r.calls[0], /^train --data \/models\/data\/extra\.jsonl --out /);
});

test('a failed training run fails the job with its exit code and publishes nothing', () => {
  const r = retrain({ champion: true, trainExit: 3 });
  assert.equal(r.status, 3);
  assert.equal(r.calls.length, 1);
  assert.match(r.stdout, /retrain: livetag train exited 3/);
});

const PRETRAIN = { LIVETAG_PRETRAIN: 'true', LIVETAG_INPUT_TOPIC: 'livetag.comments', LIVETAG_PRETRAIN_DATA: '/models/unlabeled:/models/more.txt', LIVETAG_PRETRAIN_EVERY_DAYS: '7' };

test('pretraining on: the first run pretrains an encoder from the comment topic and the data paths, installs it and trains from it', () => {
  const r = retrain({ env: PRETRAIN });
  assert.equal(r.status, 0, r.stdout);
  assert.match(
    r.calls[0],
    /^pretrain --out \S+\/scratch\/pretrain --epochs 1 --max-length 64 --quiet --topic livetag\.comments --group livetag-pretrain --kafka-brokers kafka:9092 --max-records 1000000 --max-seconds 600 --data \/models\/unlabeled --data \/models\/more\.txt$/,
  );
  assert.equal(JSON.parse(fs.readFileSync(path.join(r.registry, 'encoder', 'bundle', 'manifest.json'), 'utf8')).head, 'encoder');
  assert.ok(!fs.existsSync(path.join(path.dirname(r.registry), 'scratch', 'pretrain')), 'the scratch copy is removed once installed');
  assert.deepEqual(fs.readdirSync(r.registry).filter((n) => n.startsWith('encoder.')), [], 'no staging copy left beside it');
  assert.match(r.calls[1], new RegExp(`^train --backend auto --init ${r.registry}/encoder --out \\S+ --promote-to \\S+ --labels-topic `));
  assert.match(r.stdout, /retrain: pretrained a new encoder/);
});

test('pretraining on: the chart\'s epochs and step cap reach livetag pretrain', () => {
  const r = retrain({ env: { ...PRETRAIN, LIVETAG_PRETRAIN_EPOCHS: '20', LIVETAG_PRETRAIN_MAX_STEPS: '10000' } });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.calls[0], /^pretrain --out \S+\/scratch\/pretrain --epochs 20 --max-length 64 --quiet --max-steps 10000 --topic livetag\.comments /);
});

test('LIVETAG_TRAIN_THREADS (the chart: the CPU limit) reaches pretrain, train and optimize as --threads', () => {
  const r = retrain({ decision: 'promoted', env: { ...PRETRAIN, LIVETAG_TRAIN_THREADS: '3' } });
  assert.equal(r.status, 0, r.stdout);
  const of = (cmd: string) => r.calls.find((c) => c.startsWith(`${cmd} `)) ?? '';
  for (const cmd of ['pretrain', 'train', 'optimize']) assert.match(of(cmd), / --threads 3( |$)/, `${cmd}: ${of(cmd)}`);
  const unset = retrain({ decision: 'promoted', env: PRETRAIN });
  assert.ok(unset.calls.every((c) => !c.includes('--threads')), unset.calls.join('\n'));
});

test('pretraining on: an encoder younger than the refresh period is reused; an older one is replaced', () => {
  const fresh = retrain({ env: PRETRAIN, encoderDaysOld: 2 });
  assert.equal(fresh.status, 0, fresh.stdout);
  assert.ok(!fresh.calls.some((c) => c.startsWith('pretrain')), fresh.calls.join('\n'));
  assert.match(fresh.calls[0], new RegExp(`--init ${fresh.registry}/encoder`));
  assert.match(fresh.stdout, /retrain: encoder from \d{4}-\d\d-\d\d reused/);
  const stale = retrain({ env: PRETRAIN, encoderDaysOld: 8 });
  assert.equal(stale.status, 0, stale.stdout);
  assert.match(stale.calls[0], /^pretrain /);
  assert.doesNotMatch(fs.readFileSync(path.join(stale.registry, 'encoder', 'bundle', 'manifest.json'), 'utf8'), /before/);
});

test('pretraining on: a failed pretraining keeps the previous encoder (or none) and training goes on', () => {
  const none = retrain({ env: PRETRAIN, pretrainExit: 3 });
  assert.equal(none.status, 0, none.stdout);
  assert.match(none.stdout, /retrain: livetag pretrain failed; training from scratch/);
  assert.doesNotMatch(none.calls[1], /--init/);
  const previous = retrain({ env: PRETRAIN, pretrainExit: 3, encoderDaysOld: 30 });
  assert.equal(previous.status, 0, previous.stdout);
  assert.match(previous.stdout, /training from the previous encoder/);
  assert.match(previous.calls[1], new RegExp(`--init ${previous.registry}/encoder`));
  assert.match(fs.readFileSync(path.join(previous.registry, 'encoder', 'bundle', 'manifest.json'), 'utf8'), /before/);
});

test('pretraining on: an encoder left aside by a run killed between its two renames is put back and reused', () => {
  const r = retrain({
    env: PRETRAIN,
    setup: (registry) => {
      const manifest = path.join(registry, 'encoder.old', 'bundle', 'manifest.json');
      fs.mkdirSync(path.dirname(manifest), { recursive: true });
      fs.writeFileSync(manifest, '{"head":"encoder","version":"aside"}');
    },
  });
  assert.equal(r.status, 0, r.stdout);
  assert.ok(!r.calls.some((c) => c.startsWith('pretrain')), r.calls.join('\n'));
  assert.match(fs.readFileSync(path.join(r.registry, 'encoder', 'bundle', 'manifest.json'), 'utf8'), /aside/);
  assert.ok(!fs.existsSync(path.join(r.registry, 'encoder.old')));
});

test('the run\'s rejected records are kept on the registry volume, even when training fails (scratch goes with the pod)', () => {
  for (const trainExit of [undefined, 3]) {
    const r = retrain({ decision: 'kept', ...(trainExit ? { trainExit } : {}), env: { STUB_REJECTED: '1' } });
    assert.equal(r.status, trainExit ?? 0, r.stdout);
    const kept = fs.readdirSync(path.join(r.registry, 'rejected'));
    assert.equal(kept.length, 1);
    assert.match(kept[0], /^\d{8}T\d{6}Z\.jsonl$/);
    assert.equal(fs.readFileSync(path.join(r.registry, 'rejected', kept[0]), 'utf8').trim().split('\n').length, 2);
    assert.match(r.stdout, /retrain: 2 rejected records kept in \S+\/rejected\//);
  }
  assert.ok(!fs.existsSync(path.join(retrain({ decision: 'kept' }).registry, 'rejected')), 'none rejected, nothing kept');
});
