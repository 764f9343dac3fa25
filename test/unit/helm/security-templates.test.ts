/**
 * The chart's security templates, rendered with the cached helm
 * (scripts/ensure-helm.ts) and validated against the Kubernetes schemas:
 * - the NetworkPolicies (serving pods and the retrain job): only the HTTP
 *   port comes in, only DNS and the Kafka ports go out, peers and extra
 *   egress from values; none rendered when disabled;
 * - the retrain CronJob mounts the same SASL/TLS Secrets as the Deployment
 *   (so `train --labels-topic` and the model announcement log in on a secured
 *   cluster) and sets the same client settings as the serve ConfigMap.
 *
 * Without Go the tests skip, saying so (as test/unit/helm/chart.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chartToolingOrSkip, helmTemplate, validateManifests, type ChartTooling } from '../../../scripts/ensure-helm.ts';

type Doc = Record<string, any>;

const { tooling, skip: skipReason } = await chartToolingOrSkip();
const tools = (): ChartTooling => tooling!;
const opts = { skip: skipReason ?? false };

const SECURED = ['kafka.sasl.enabled=true', 'kafka.sasl.secretName=kafka-user', 'kafka.tls.enabled=true', 'kafka.tls.secretName=kafka-ca', 'kafka.tls.certKey=tls.crt', 'kafka.tls.keyKey=tls.key'];

function policies(docs: Doc[]): Doc[] {
  return docs.filter((d) => d.kind === 'NetworkPolicy');
}

function egressPorts(policy: Doc): Array<{ protocol: string; port: number }> {
  return (policy.spec.egress as Doc[]).flatMap((rule) => rule.ports ?? []);
}

describe('NetworkPolicy', opts, () => {
  test('disabled by default: none rendered', async () => {
    const { docs } = await helmTemplate(tools());
    assert.deepEqual(policies(docs), []);
  });

  test('enabled: serving pods take only the HTTP port, send only DNS and Kafka; the retrain job takes nothing', async () => {
    const { yaml, docs } = await helmTemplate(tools(), { set: ['networkPolicy.enabled=true', 'http.port=8088'] });
    const valid = await validateManifests(tools(), yaml);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    const [serve, train] = [policies(docs).find((p) => !p.metadata.name.endsWith('-train')), policies(docs).find((p) => p.metadata.name.endsWith('-train'))];
    assert.ok(serve && train, `both policies rendered: ${policies(docs).map((p) => p.metadata.name)}`);

    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    assert.deepEqual(serve.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels, 'selects the serving pods');
    assert.deepEqual(serve.spec.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(serve.spec.ingress, [{ ports: [{ protocol: 'TCP', port: 8088 }] }], 'only the HTTP port, from anywhere when httpFrom is empty');
    const container = deployment.spec.template.spec.containers[0];
    assert.ok(container.ports.some((p: Doc) => p.containerPort === 8088), 'the port the policy opens is the one the container listens on');
    const dns = [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }];
    const kafka = [{ protocol: 'TCP', port: 9092 }, { protocol: 'TCP', port: 9093 }];
    assert.deepEqual(egressPorts(serve), [...dns, ...kafka]);
    assert.ok((serve.spec.egress as Doc[]).every((r) => !r.to), 'no peer restriction when kafkaTo is empty');

    const cron = docs.find((d) => d.kind === 'CronJob')!;
    const trainLabels = cron.spec.jobTemplate.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(train.spec.podSelector.matchLabels)) assert.equal(trainLabels[k], v, `the train policy selects the job's pods (${k})`);
    assert.ok(!Object.keys(deployment.spec.template.metadata.labels).some((k) => k === 'app.kubernetes.io/name' && deployment.spec.template.metadata.labels[k] === train.spec.podSelector.matchLabels[k]), 'and not the serving pods');
    assert.deepEqual(train.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(train.spec.ingress, undefined, 'no ingress rule: nothing comes in');
    assert.deepEqual(egressPorts(train), [...dns, ...kafka]);
  });

  test('peers, Kafka ports and extra egress come from values', async () => {
    const { yaml, docs } = await helmTemplate(tools(), {
      set: [
        'networkPolicy.enabled=true',
        'networkPolicy.httpFrom[0].namespaceSelector.matchLabels.name=monitoring',
        'networkPolicy.kafkaTo[0].ipBlock.cidr=10.20.0.0/16',
        'networkPolicy.kafkaPorts={9094}',
        'networkPolicy.extraEgress[0].ports[0].port=443',
        'networkPolicy.extraEgress[0].ports[0].protocol=TCP',
        'networkPolicy.extraEgress[0].to[0].ipBlock.cidr=10.30.0.5/32',
      ],
    });
    const valid = await validateManifests(tools(), yaml);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    for (const p of policies(docs)) {
      const egress = p.spec.egress as Doc[];
      assert.deepEqual(egress[1], { ports: [{ protocol: 'TCP', port: 9094 }], to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] }, `${p.metadata.name}: Kafka egress`);
      assert.deepEqual(egress[2], { ports: [{ port: 443, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.30.0.5/32' } }] }, `${p.metadata.name}: extra egress (an OAuth token endpoint)`);
      assert.equal(egress.length, 3);
    }
    const serve = policies(docs).find((p) => !p.metadata.name.endsWith('-train'))!;
    assert.deepEqual(serve.spec.ingress[0].from, [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }]);
  });

  test('train disabled: only the serving policy', async () => {
    const { docs } = await helmTemplate(tools(), { set: ['networkPolicy.enabled=true', 'train.enabled=false'] });
    assert.deepEqual(policies(docs).map((p) => p.metadata.name), ['livetag']);
  });
});

describe('retrain CronJob on a secured cluster', opts, () => {
  test('mounts the Deployment\'s SASL and TLS Secrets and sets the same client settings as the serve ConfigMap', async () => {
    const { yaml, docs } = await helmTemplate(tools(), { set: SECURED });
    const valid = await validateManifests(tools(), yaml);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    const deployPod = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec;
    const cronPod = docs.find((d) => d.kind === 'CronJob')!.spec.jobTemplate.spec.template.spec;
    const serveConfig = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'livetag')!.data as Record<string, string>;
    const [serveC, trainC] = [deployPod.containers[0], cronPod.containers[0]];

    for (const volume of ['kafka-sasl', 'kafka-tls']) {
      const byName = (list: Doc[]) => list.find((x) => x.name === volume);
      assert.ok(byName(cronPod.volumes), `CronJob has volume ${volume}`);
      assert.deepEqual(byName(cronPod.volumes), byName(deployPod.volumes), `${volume}: the same Secret and items`);
      assert.deepEqual(byName(trainC.volumeMounts), byName(serveC.volumeMounts), `${volume}: mounted at the same path, read-only`);
      assert.equal(byName(trainC.volumeMounts)?.readOnly, true);
    }
    assert.equal(cronPod.volumes.find((v: Doc) => v.name === 'kafka-sasl').secret.secretName, 'kafka-user');
    assert.equal(cronPod.volumes.find((v: Doc) => v.name === 'kafka-tls').secret.secretName, 'kafka-ca');

    const env = new Map<string, Doc>((trainC.env as Doc[]).map((e) => [e.name, e]));
    for (const key of ['LIVETAG_KAFKA_SASL_MECHANISM', 'LIVETAG_KAFKA_SASL_PASSWORD_FILE', 'LIVETAG_KAFKA_TLS', 'LIVETAG_KAFKA_TLS_CA_FILE', 'LIVETAG_KAFKA_TLS_CERT_FILE', 'LIVETAG_KAFKA_TLS_KEY_FILE', 'LIVETAG_KAFKA_BROKERS']) {
      assert.equal(env.get(key)?.value, serveConfig[key], `${key}: the CronJob's value is the Deployment's`);
    }
    const serveUser = (serveC.env as Doc[]).find((e) => e.name === 'LIVETAG_KAFKA_SASL_USERNAME');
    assert.deepEqual(env.get('LIVETAG_KAFKA_SASL_USERNAME')?.valueFrom, serveUser?.valueFrom);
    assert.deepEqual(env.get('LIVETAG_KAFKA_SASL_USERNAME')?.valueFrom, { secretKeyRef: { name: 'kafka-user', key: 'username' } });
    assert.ok(!yaml.includes('password:'), 'no secret value in the manifests');
  });

  test('TLS with the system CAs (no Secret): no mount, LIVETAG_KAFKA_TLS true; plaintext: no Kafka secrets at all', async () => {
    const systemCa = await helmTemplate(tools(), { set: ['kafka.tls.enabled=true'] });
    const pod = systemCa.docs.find((d) => d.kind === 'CronJob')!.spec.jobTemplate.spec.template.spec;
    assert.ok(!pod.volumes.some((v: Doc) => v.name.startsWith('kafka-')));
    assert.equal(pod.containers[0].env.find((e: Doc) => e.name === 'LIVETAG_KAFKA_TLS').value, 'true');
    assert.equal(pod.containers[0].env.find((e: Doc) => e.name === 'LIVETAG_KAFKA_TLS_CA_FILE'), undefined);

    const plain = await helmTemplate(tools());
    const plainPod = plain.docs.find((d) => d.kind === 'CronJob')!.spec.jobTemplate.spec.template.spec;
    assert.ok(!plainPod.volumes.some((v: Doc) => v.name.startsWith('kafka-')));
    assert.ok(!plainPod.containers[0].env.some((e: Doc) => e.name.startsWith('LIVETAG_KAFKA_SASL')));
    assert.equal(plainPod.containers[0].env.find((e: Doc) => e.name === 'LIVETAG_KAFKA_TLS').value, 'false');
  });
});
