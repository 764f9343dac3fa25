/**
 * The Helm chart: lint, render and schema-validate every variant (default,
 * GPU, KEDA, HPA, monitoring, baked model), prove the validator rejects
 * invalid manifests, and check the chart's contracts with the service
 * (settings, probes, drain deadline, security, registry volume, autoscaling cap).
 *
 * Needs helm and helm-tools, built once from Go modules into .cache/helm by
 * scripts/ensure-helm.ts (minutes the first time). Without Go the tests skip,
 * saying so; any other build failure fails them with the build's error.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { SETTINGS, loadServeConfig } from '../../../src/consumer/config.ts';
import {
  CHART_DIR,
  chartToolingOrSkip,
  helmLint,
  helmTemplate,
  helmTemplateError,
  validateManifests,
  type ChartTooling,
  type Rendered,
} from '../../../scripts/ensure-helm.ts';

type Doc = Record<string, any>;

const { tooling, skip: skipReason } = await chartToolingOrSkip();
const tools = (): ChartTooling => tooling!;

/** values files under helm/livetag/ci/, one per variant the chart must render. */
const VARIANTS: Record<string, string[]> = {
  default: [],
  gpu: ['ci/gpu-values.yaml'],
  keda: ['ci/keda-values.yaml'],
  hpa: ['ci/hpa-values.yaml'],
  monitoring: ['ci/monitoring-values.yaml'],
  'baked-model': ['ci/baked-model-values.yaml'],
};

const rendered = new Map<string, Rendered>();
async function render(variant: string): Promise<Rendered> {
  let r = rendered.get(variant);
  if (!r) {
    r = await helmTemplate(tools(), { valuesFiles: VARIANTS[variant] });
    rendered.set(variant, r);
  }
  return r;
}

function find(docs: Doc[], kind: string, nameSuffix = ''): Doc {
  const d = docs.find((x) => x.kind === kind && String(x.metadata?.name).endsWith(nameSuffix));
  assert.ok(d, `no ${kind}${nameSuffix ? ` named *${nameSuffix}` : ''} rendered`);
  return d;
}

function podSpecs(docs: Doc[]): Array<[string, Doc]> {
  const out: Array<[string, Doc]> = [];
  for (const d of docs) {
    if (d.kind === 'Deployment') out.push([`Deployment/${d.metadata.name}`, d.spec.template.spec]);
    if (d.kind === 'CronJob') out.push([`CronJob/${d.metadata.name}`, d.spec.jobTemplate.spec.template.spec]);
  }
  return out;
}

const opts = { skip: skipReason ?? false };

describe('helm lint and template', opts, () => {
  for (const [variant, files] of Object.entries(VARIANTS)) {
    test(`${variant}: helm lint --strict passes`, async () => {
      const r = await helmLint(tools(), files);
      assert.equal(r.code, 0, `helm lint failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    test(`${variant}: every rendered manifest validates against the Kubernetes / KEDA / Prometheus-operator schemas`, async () => {
      const { yaml, docs } = await render(variant);
      const r = await validateManifests(tools(), yaml);
      assert.equal(r.code, 0, `validation failed:\n${r.stdout}${r.stderr}`);
      const ok = r.stdout.trim().split('\n');
      assert.equal(ok.length, docs.length, 'one report line per document');
      assert.ok(ok.every((l) => l.startsWith('ok ')), r.stdout);
    });
  }

  test('each variant renders the objects it is for', async () => {
    const kinds = async (v: string) => (await render(v)).docs.map((d) => d.kind).sort();
    const base = ['ConfigMap', 'ConfigMap', 'CronJob', 'Deployment', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service', 'ServiceAccount'];
    assert.deepEqual(await kinds('default'), base);
    assert.deepEqual(await kinds('gpu'), base);
    assert.deepEqual(await kinds('keda'), [...base, 'ScaledObject', 'TriggerAuthentication'].sort());
    assert.deepEqual(await kinds('hpa'), [...base, 'HorizontalPodAutoscaler'].sort());
    assert.deepEqual(await kinds('monitoring'), [...base, 'ConfigMap', 'PrometheusRule', 'ServiceMonitor'].sort());
    assert.deepEqual(await kinds('baked-model'), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
  });
});

describe('the validator rejects invalid manifests', opts, () => {
  test('unknown fields, wrong types, missing required fields, bad enums, CRD violations and selector mismatches', async () => {
    const valid = [...(await render('keda')).docs, ...(await render('monitoring')).docs.filter((d) => d.apiVersion === 'monitoring.coreos.com/v1')];
    const broken: Doc[] = structuredClone(valid);
    const deployment = find(broken, 'Deployment');
    deployment.spec.replica = 3; // typo of replicas
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http'; // string for an integer
    deployment.spec.template.metadata.labels['app.kubernetes.io/name'] = 'other'; // selector no longer matches
    const cron = find(broken, 'CronJob');
    cron.spec.concurrencyPolicy = 'Sometimes';
    delete cron.spec.jobTemplate.spec.template.spec.containers[0].image; // still valid: image is optional in the schema
    delete cron.spec.schedule; // required
    const scaled = find(broken, 'ScaledObject');
    scaled.spec.triggers[0].metadata.lagThreshold = 1000; // trigger metadata values are strings
    const rule = find(broken, 'PrometheusRule');
    rule.spec.groups[0].rules[0].for = '10 minutes'; // not a Prometheus duration
    const sm = find(broken, 'ServiceMonitor');
    sm.spec.endpoints[0].scheme = 'gopher';
    const service = find(broken, 'Service');
    service.metadata.name = 'Livetag_Metrics'; // not a DNS-1035 label
    const yaml = broken.map((d) => JSON.stringify(d)).join('\n---\n');

    const r = await validateManifests(tools(), yaml);
    assert.equal(r.code, 1, `expected failure, got:\n${r.stdout}${r.stderr}`);
    const expected: Array<[string, RegExp]> = [
      ['Deployment', /additional properties 'replica' not allowed/],
      ['Deployment', /containerPort: got string, want integer/],
      ['Deployment', /selector does not match template labels/],
      ['CronJob', /missing property 'schedule'/],
      ['CronJob', /concurrencyPolicy: unsupported value "Sometimes"/],
      ['ScaledObject', /lagThreshold: got number, want string/],
      ['PrometheusRule', /\/for: .*does not match pattern/],
      ['ServiceMonitor', /scheme: value must be one of/],
      ['Service', /metadata\/name: a DNS-1035 label/],
    ];
    for (const [kind, re] of expected) {
      const section = r.stdout.split(/\n(?=ok |error )/).find((s) => s.startsWith(`error ${kind}/`) && re.test(s));
      assert.ok(section, `${kind}: no error matching ${re} in:\n${r.stdout}`);
    }
    // The documents left alone still pass.
    assert.match(r.stdout, /^ok ConfigMap\//m);
    assert.match(r.stdout, /^ok TriggerAuthentication\//m);
  });

  test('a kind without a schema is an error, not a pass', async () => {
    const r = await validateManifests(tools(), 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /no schema for example\.com\/v1\/Widget/);
  });
});

describe('chart contracts', opts, () => {
  test('the ConfigMap (plus Secret env) sets every LIVETAG_* setting the service reads, and the service accepts it', async () => {
    const { docs } = await render('default');
    const data = find(docs, 'ConfigMap', 'livetag').data as Record<string, string>;
    for (const key of Object.keys(SETTINGS)) assert.ok(key in data, `${key} missing from the ConfigMap`);
    for (const key of Object.keys(data)) assert.ok(key in SETTINGS, `ConfigMap sets ${key}, which the service does not read`);
    const config = loadServeConfig({}, data);
    assert.equal(config.registry?.root, '/models');
    assert.equal(config.model.path, '/models/current');
    assert.equal(config.model.device, 'cpu');
    assert.equal(config.http.port, 9464);
    assert.deepEqual(config.kafka.brokers, ['kafka-bootstrap.kafka.svc:9092']);
  });

  test('values.yaml config defaults are the service defaults, except the documented deviations', async () => {
    const { docs } = await render('default');
    const data = find(docs, 'ConfigMap', 'livetag').data as Record<string, string>;
    // '' is "unset" for the optional settings (the service treats an empty value as absent).
    const unset = ['LIVETAG_HTTP_TOKEN_FILE', 'LIVETAG_KAFKA_OAUTH_TOKEN_URL', 'LIVETAG_KAFKA_OAUTH_CLIENT_ID', 'LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE', 'LIVETAG_KAFKA_OAUTH_SCOPE'];
    const deviations: Record<string, string> = { LIVETAG_THREADS: '2', LIVETAG_TRANSACTIONAL_ID: '', ...Object.fromEntries(unset.map((k) => [k, ''])) };
    const derived = new Set(['LIVETAG_KAFKA_BROKERS', 'LIVETAG_MODEL', 'LIVETAG_REGISTRY', 'LIVETAG_KAFKA_SASL_USERNAME', 'LIVETAG_KAFKA_SASL_MECHANISM', 'LIVETAG_KAFKA_SASL_PASSWORD_FILE', 'LIVETAG_KAFKA_TLS_CA_FILE', 'LIVETAG_KAFKA_TLS_CERT_FILE', 'LIVETAG_KAFKA_TLS_KEY_FILE']);
    for (const [key, s] of Object.entries(SETTINGS)) {
      if (derived.has(key)) continue;
      const expected = key in deviations ? deviations[key] : String(s.default);
      assert.equal(data[key], expected, `${key}: chart default ${JSON.stringify(data[key])}, service default ${JSON.stringify(s.default)}`);
    }
  });

  test('SASL and TLS come from Secrets: password and certificates as mounted files, the user name as env', async () => {
    const { docs } = await helmTemplate(tools(), {
      set: ['kafka.sasl.enabled=true', 'kafka.sasl.secretName=kafka-user', 'kafka.tls.enabled=true', 'kafka.tls.secretName=kafka-ca', 'kafka.tls.certKey=tls.crt', 'kafka.tls.keyKey=tls.key'],
    });
    const data = find(docs, 'ConfigMap', 'livetag').data as Record<string, string>;
    const pod = find(docs, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    const mountOf = (volume: string) => c.volumeMounts.find((m: Doc) => m.name === volume)?.mountPath as string;
    assert.equal(data.LIVETAG_KAFKA_SASL_MECHANISM, 'scram-sha-512');
    assert.equal(data.LIVETAG_KAFKA_SASL_PASSWORD_FILE, `${mountOf('kafka-sasl')}/password`);
    assert.equal(data.LIVETAG_KAFKA_TLS, 'true');
    assert.equal(data.LIVETAG_KAFKA_TLS_CA_FILE, `${mountOf('kafka-tls')}/ca.crt`);
    assert.equal(data.LIVETAG_KAFKA_TLS_CERT_FILE, `${mountOf('kafka-tls')}/tls.crt`);
    assert.equal(data.LIVETAG_KAFKA_TLS_KEY_FILE, `${mountOf('kafka-tls')}/tls.key`);
    assert.deepEqual(c.env.find((e: Doc) => e.name === 'LIVETAG_KAFKA_SASL_USERNAME').valueFrom, { secretKeyRef: { name: 'kafka-user', key: 'username' } });
    assert.equal(pod.volumes.find((v: Doc) => v.name === 'kafka-sasl').secret.secretName, 'kafka-user');
    assert.equal(pod.volumes.find((v: Doc) => v.name === 'kafka-tls').secret.secretName, 'kafka-ca');
    assert.ok(!JSON.stringify(docs).includes('"password":'), 'no secret value in the manifests');
  });

  test('probes hit /healthz and /readyz on the service port; the grace period outlasts the drain deadline', async () => {
    for (const [drainMs, minGrace] of [[undefined, 21], ['45000', 46], ['1500', 2]] as const) {
      const { docs } = await helmTemplate(tools(), { set: drainMs ? [`config.LIVETAG_DRAIN_TIMEOUT_MS=${drainMs}`] : [] });
      const data = find(docs, 'ConfigMap', 'livetag').data as Record<string, string>;
      const pod = find(docs, 'Deployment').spec.template.spec;
      const drainSeconds = Number(data.LIVETAG_DRAIN_TIMEOUT_MS) / 1000;
      assert.ok(pod.terminationGracePeriodSeconds > drainSeconds, `grace ${pod.terminationGracePeriodSeconds} s <= drain ${drainSeconds} s`);
      assert.ok(pod.terminationGracePeriodSeconds >= minGrace);
      const c = pod.containers[0];
      const port = c.ports.find((p: Doc) => p.name === 'http-metrics');
      assert.equal(String(port.containerPort), data.LIVETAG_HTTP_PORT);
      assert.equal(c.livenessProbe.httpGet.path, '/healthz');
      assert.equal(c.startupProbe.httpGet.path, '/healthz');
      assert.equal(c.readinessProbe.httpGet.path, '/readyz');
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(p.httpGet.port, 'http-metrics');
    }
  });

  test('every pod runs as non-root, with a read-only root filesystem, no privilege escalation and no capabilities', async () => {
    for (const variant of Object.keys(VARIANTS)) {
      for (const [where, spec] of podSpecs((await render(variant)).docs)) {
        assert.equal(spec.securityContext.runAsNonRoot, true, `${variant} ${where}`);
        assert.ok(spec.securityContext.runAsUser > 0, `${variant} ${where}`);
        assert.equal(spec.automountServiceAccountToken, false, `${variant} ${where}`);
        for (const c of spec.containers) {
          const sc = c.securityContext;
          assert.equal(sc.readOnlyRootFilesystem, true, `${variant} ${where} ${c.name}`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${variant} ${where} ${c.name}`);
          assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, `${variant} ${where} ${c.name}`);
          assert.ok(c.volumeMounts.some((m: Doc) => m.mountPath === '/tmp'), `${variant} ${where}: /tmp must be writable`);
        }
      }
    }
  });

  test('the model registry PVC is shared: the CronJob writes it, the Deployment mounts it read-only', async () => {
    const { docs } = await render('default');
    const pvc = find(docs, 'PersistentVolumeClaim');
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany']);
    assert.equal(pvc.metadata.annotations['helm.sh/resource-policy'], 'keep');
    const serve = find(docs, 'Deployment').spec.template.spec;
    const train = find(docs, 'CronJob').spec.jobTemplate.spec.template.spec;
    const claim = (spec: Doc) => spec.volumes.find((v: Doc) => v.name === 'models').persistentVolumeClaim;
    assert.equal(claim(serve).claimName, pvc.metadata.name);
    assert.equal(claim(train).claimName, pvc.metadata.name);
    assert.equal(claim(serve).readOnly, true);
    assert.equal(serve.containers[0].volumeMounts.find((m: Doc) => m.name === 'models').readOnly, true);
    assert.equal(train.containers[0].volumeMounts.find((m: Doc) => m.name === 'models').mountPath, '/models');
    const env = Object.fromEntries(train.containers[0].env.map((e: Doc) => [e.name, e.value]));
    assert.equal(env.LIVETAG_REGISTRY, '/models');
  });

  test('the retrain CronJob: schedule, Forbid, backoff, the script from files/retrain.sh', async () => {
    const { docs } = await render('default');
    const cron = find(docs, 'CronJob');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    assert.equal(cron.spec.schedule, '0 3 * * *');
    assert.equal(cron.spec.jobTemplate.spec.backoffLimit, 1);
    assert.ok(cron.metadata.name.length <= 52);
    const c = cron.spec.jobTemplate.spec.template.spec.containers[0];
    assert.deepEqual(c.command, ['/bin/sh', '/opt/livetag/retrain.sh']);
    assert.deepEqual(c.args, ['--backend', 'onnxruntime', '--device', 'auto', '--promote-metric', 'macro_f1', '--promote-margin', '0.01']);
    const script = find(docs, 'ConfigMap', '-train').data['retrain.sh'];
    assert.equal(script, fs.readFileSync(path.join(CHART_DIR, 'files', 'retrain.sh'), 'utf8').trimEnd());
    // The measured pretraining recipe (values.yaml): 30 epochs of a small corpus, capped in steps for a large topic.
    const env = Object.fromEntries(c.env.filter((e: Doc) => 'value' in e).map((e: Doc) => [e.name, e.value]));
    assert.equal(env.LIVETAG_PRETRAIN, 'true');
    assert.equal(env.LIVETAG_PRETRAIN_EPOCHS, '30');
    assert.equal(env.LIVETAG_PRETRAIN_MAX_STEPS, '10000');
    assert.equal(env.LIVETAG_TRAIN_THREADS, '4', 'onnxruntime threads from the CPU limit, not the node');
    assert.equal(env.LIVETAG_INPUT_TEXT_FIELD, '/text', 'pretraining reads the comment text where serve does');
    // The longest release name Helm allows (53) still gives a CronJob name within 52 characters.
    const long = await helmTemplate(tools(), { release: `livetag-${'x'.repeat(45)}` });
    const longCron = find(long.docs, 'CronJob');
    assert.ok(longCron.metadata.name.length <= 52, longCron.metadata.name);
    assert.equal((await validateManifests(tools(), long.yaml)).code, 0);
  });

  test('secret files through extraVolumes (serve and retrain pods); retrain threads from the CPU limit or train.threads; the input text field reaches pretraining', async () => {
    const { yaml, docs } = await helmTemplate(tools(), {
      set: [
        'extraVolumes[0].name=http-token', 'extraVolumes[0].secret.secretName=livetag-http-token',
        'extraVolumeMounts[0].name=http-token', 'extraVolumeMounts[0].mountPath=/etc/livetag/secrets', 'extraVolumeMounts[0].readOnly=true',
        'config.LIVETAG_HTTP_TOKEN_FILE=/etc/livetag/secrets/token', 'config.LIVETAG_INPUT_TEXT_FIELD=/payload/msg/text',
        'train.extraVolumes[0].name=oauth', 'train.extraVolumes[0].secret.secretName=livetag-oauth',
        'train.extraVolumeMounts[0].name=oauth', 'train.extraVolumeMounts[0].mountPath=/etc/livetag/oauth',
        'train.resources.limits.cpu=2500m',
      ],
    });
    assert.equal((await validateManifests(tools(), yaml)).code, 0);
    const serve = find(docs, 'Deployment').spec.template.spec;
    assert.deepEqual(serve.volumes.find((v: Doc) => v.name === 'http-token'), { name: 'http-token', secret: { secretName: 'livetag-http-token' } });
    assert.deepEqual(serve.containers[0].volumeMounts.find((m: Doc) => m.name === 'http-token'), { name: 'http-token', mountPath: '/etc/livetag/secrets', readOnly: true });
    const cron = find(docs, 'CronJob').spec.jobTemplate.spec.template.spec;
    assert.ok(cron.volumes.some((v: Doc) => v.name === 'oauth') && cron.containers[0].volumeMounts.some((m: Doc) => m.name === 'oauth' && m.mountPath === '/etc/livetag/oauth'));
    assert.ok(!cron.volumes.some((v: Doc) => v.name === 'http-token'), "serve's volumes stay in serve's pod");
    const env = Object.fromEntries(cron.containers[0].env.filter((e: Doc) => 'value' in e).map((e: Doc) => [e.name, e.value]));
    assert.equal(env.LIVETAG_TRAIN_THREADS, '2', '2500m: its whole cores');
    assert.equal(env.LIVETAG_INPUT_TEXT_FIELD, '/payload/msg/text');
    const explicit = await helmTemplate(tools(), { set: ['train.threads=7'] });
    const envOf = (d: Doc[]) => find(d, 'CronJob').spec.jobTemplate.spec.template.spec.containers[0].env as Doc[];
    assert.equal(envOf(explicit.docs).find((e) => e.name === 'LIVETAG_TRAIN_THREADS')?.value, '7');
    const unlimited = await helmTemplate(tools(), { set: ['train.resources.limits=null'] });
    assert.equal(envOf(unlimited.docs).find((e) => e.name === 'LIVETAG_TRAIN_THREADS'), undefined, 'no limit: one thread per core, as before');
  });

  test('GPU: CUDA image, LIVETAG_DEVICE=cuda, nvidia.com/gpu limit, GPU node selector and toleration', async () => {
    const { docs } = await render('gpu');
    const data = find(docs, 'ConfigMap', 'livetag').data as Record<string, string>;
    assert.equal(data.LIVETAG_DEVICE, 'cuda');
    assert.equal(loadServeConfig({}, data).model.device, 'cuda');
    for (const [where, spec] of podSpecs(docs)) {
      const c = spec.containers[0];
      assert.match(c.image, /^livetag:.+-cuda$/, where);
      assert.equal(String(c.resources.limits['nvidia.com/gpu']), '1', where);
      assert.equal(spec.nodeSelector['nvidia.com/gpu.present'], 'true', where);
      assert.ok(spec.tolerations.some((t: Doc) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'), where);
      assert.equal(spec.runtimeClassName, 'nvidia', where);
    }
    const cpu = find((await render('default')).docs, 'Deployment').spec.template.spec;
    assert.doesNotMatch(cpu.containers[0].image, /-cuda$/);
    assert.equal(cpu.containers[0].resources.limits['nvidia.com/gpu'], undefined);
    assert.equal(cpu.nodeSelector, undefined);
  });

  test('anti-affinity spreads replicas; a PodDisruptionBudget covers them', async () => {
    const { docs } = await render('default');
    const d = find(docs, 'Deployment');
    const term = d.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    assert.deepEqual(term.labelSelector.matchLabels, d.spec.selector.matchLabels);
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    const hard = find((await helmTemplate(tools(), { set: ['podAntiAffinity=hard'] })).docs, 'Deployment');
    assert.ok(hard.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution);
    const pdb = find(docs, 'PodDisruptionBudget');
    assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
    assert.equal(pdb.spec.maxUnavailable, 1);
  });

  test('autoscaling: KEDA on the group lag, HPA on CPU, replicas capped at the partition count', async () => {
    const keda = (await render('keda')).docs;
    const so = find(keda, 'ScaledObject');
    const trigger = so.spec.triggers[0];
    assert.equal(trigger.type, 'kafka');
    assert.equal(trigger.metadata.consumerGroup, 'livetag');
    assert.equal(trigger.metadata.topic, 'livetag.comments');
    assert.equal(trigger.metadata.allowIdleConsumers, 'false');
    assert.equal(trigger.metadata.sasl, 'scram_sha512');
    assert.equal(trigger.metadata.tls, 'enable');
    assert.equal(trigger.authenticationRef.name, find(keda, 'TriggerAuthentication').metadata.name);
    assert.equal(so.spec.maxReplicaCount, 24);
    assert.equal(find(keda, 'Deployment').spec.replicas, undefined, 'the autoscaler owns replicas');
    // KEDA counts lag for a group without offsets from where the service starts it.
    assert.equal(trigger.metadata.offsetResetPolicy, 'earliest', 'LIVETAG_FROM_BEGINNING true (the default)');
    const latest = find((await helmTemplate(tools(), { valuesFiles: VARIANTS.keda, set: ['config.LIVETAG_FROM_BEGINNING=false'] })).docs, 'ScaledObject');
    assert.equal(latest.spec.triggers[0].metadata.offsetResetPolicy, 'latest');
    for (const yes of ['1', 'yes', '']) {
      const so = find((await helmTemplate(tools(), { valuesFiles: VARIANTS.keda, set: [`config.LIVETAG_FROM_BEGINNING=${yes}`] })).docs, 'ScaledObject');
      assert.equal(so.spec.triggers[0].metadata.offsetResetPolicy, 'earliest', `LIVETAG_FROM_BEGINNING=${JSON.stringify(yes)} is true to the service`);
    }
    const pinned = find((await helmTemplate(tools(), { valuesFiles: VARIANTS.keda, set: ['config.LIVETAG_FROM_BEGINNING=false', 'autoscaling.keda.offsetResetPolicy=earliest'] })).docs, 'ScaledObject');
    assert.equal(pinned.spec.triggers[0].metadata.offsetResetPolicy, 'earliest', 'an explicit policy wins');
    const hpa = find((await render('hpa')).docs, 'HorizontalPodAutoscaler');
    assert.equal(hpa.spec.maxReplicas, 12);
    assert.equal(find((await render('hpa')).docs, 'Deployment').spec.replicas, undefined);
    for (const mode of ['keda', 'hpa']) {
      const err = await helmTemplateError(tools(), [`autoscaling.mode=${mode}`, 'autoscaling.maxReplicas=13']);
      assert.match(err, /autoscaling\.maxReplicas \(13\) exceeds kafka\.inputPartitions \(12\)/);
    }
  });

  test('bad values fail the render with a message naming the value', async () => {
    assert.match(await helmTemplateError(tools(), ['config.LIVETAG_MODEL=/x']), /config\.LIVETAG_MODEL is derived by the chart/);
    // values.schema.json catches it first; the template's own check stays for --skip-schema-validation.
    assert.match(await helmTemplateError(tools(), ['config.NODE_OPTIONS=--x']), /'NODE_OPTIONS' does not match pattern/);
    assert.match(await helmTemplateError(tools(), ['kafka.sasl.enabled=true']), /kafka\.sasl\.enabled needs kafka\.sasl\.secretName/);
    assert.match(await helmTemplateError(tools(), ['autoscaling.mode=sometimes']), /autoscaling\/mode': value must be one of 'none', 'hpa', 'keda'/);
    assert.match(await helmTemplateError(tools(), ['modelRegistry.enabled=false']), /train\.enabled needs modelRegistry\.enabled/);
  });

  test('monitoring: ServiceMonitor on the metrics port, alert rules, dashboard ConfigMap for the Grafana sidecar', async () => {
    const { docs } = await render('monitoring');
    const sm = find(docs, 'ServiceMonitor');
    const svc = find(docs, 'Service');
    assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
    assert.equal(sm.spec.endpoints[0].path, '/metrics');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);
    assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
    const alerts = find(docs, 'PrometheusRule').spec.groups.flatMap((g: Doc) => g.rules.map((r: Doc) => r.alert));
    for (const a of ['LivetagLagGrowing', 'LivetagLatencyP99OverSLO', 'LivetagDeadLetterRate', 'LivetagModelReloadFailed', 'LivetagNoOutput']) assert.ok(alerts.includes(a), a);
    const cm = find(docs, 'ConfigMap', '-dashboard');
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.equal(cm.metadata.annotations.grafana_folder, 'livetag');
    assert.deepEqual(JSON.parse(cm.data['livetag.json']), JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'dashboards', 'livetag.json'), 'utf8')));
  });
});

before(() => {
  if (skipReason) process.stderr.write(`helm chart tests skipped: ${skipReason}\n`);
});
