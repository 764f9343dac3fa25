import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createHttpInference, serverLimitsFor, type HttpInferenceOptions } from '../../../src/consumer/http-inference.ts';
import { createHttpServer, type HttpServer } from '../../../src/consumer/http-server.ts';
import { createServeMetrics } from '../../../src/consumer/metrics.ts';
import { createClassifyStage, type ClassifyStage } from '../../../src/consumer/stages/classify.ts';
import { writeRandomBundle } from '../../../src/model/build/random-bundle.ts';
import { createClassifier, type Classifier } from '../../../src/model/runtime/classifier.ts';
import { tempDir } from '../../helpers/shared.ts';

let classifier: Classifier;
const stages: ClassifyStage[] = [];
const servers: HttpServer[] = [];

before(async () => {
  const dir = join(tempDir('livetag-http-'), 'tiny');
  await writeRandomBundle(dir, { shape: 'tiny', seed: 5 });
  classifier = await createClassifier({ bundle: dir, threads: 1 });
});

after(async () => {
  for (const s of servers) await s.stop();
  for (const s of stages) await s.stop();
  await classifier?.stop();
});

/** A real classify stage and HTTP server on a free port, with the given limits. */
async function serve(limits: Partial<HttpInferenceOptions> = {}, batchWaitMs = 2) {
  const metrics = createServeMetrics();
  const stage = createClassifyStage({ classifier, outputTopic: 'o', deadLetterTopic: 'd', batch: { maxSize: 64, maxWaitMs: batchWaitMs, maxTokens: 4096 }, maxMessageBytes: 65536, dedupeCacheSize: 0, allScores: false, metrics });
  stages.push(stage);
  const inference = createHttpInference({ modelName: 'livetag', maxBodyBytes: 4096, maxTexts: 8, requestTimeoutMs: 5000, maxConcurrent: 8, stage: () => stage, isReady: () => true, serverVersion: '0.0.0', metrics, ...limits });
  const server = createHttpServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, isReady: () => true, routes: inference.handle });
  await server.start();
  servers.push(server);
  const base = `http://127.0.0.1:${server.port}`;
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(base + path, init);
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => call(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return { call, post, metrics, stage };
}

test('KServe V2: server and model metadata, readiness, infer; /v1/classify gives the same tags as the stage', async () => {
  const { call, post, stage, metrics } = await serve();
  assert.equal((await call('/v2')).body.name, 'livetag');
  assert.equal((await call('/v2/health/ready')).status, 200);
  assert.equal((await call('/v2/models/livetag/ready')).status, 200);
  const meta = await call('/v2/models/livetag');
  assert.deepEqual(meta.body.versions, [classifier.manifest.version]);
  assert.deepEqual((meta.body.outputs as { shape: number[] }[])[1].shape, [-1, classifier.labels.length]);

  const texts = ['这个多少钱', 'M码还有吗', '这个多少钱'];
  const v2 = await post('/v2/models/livetag/infer', { id: 'r1', inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: texts }] });
  assert.equal(v2.status, 200, JSON.stringify(v2.body));
  assert.equal(v2.body.id, 'r1');
  assert.equal(v2.body.model_version, classifier.manifest.version);
  const [tags, scores] = v2.body.outputs as { name: string; shape: number[]; data: (string | number)[] }[];
  assert.equal(tags.name, 'tags');
  assert.deepEqual(scores.shape, [3, classifier.labels.length]);
  const direct = await stage.classifyTexts(texts);
  assert.deepEqual(tags.data.map((d) => JSON.parse(d as string)), direct.results.map((r) => r.tags.map((t) => t.label)));

  const v1 = await post('/v1/classify', { texts });
  assert.equal(v1.status, 200);
  assert.deepEqual((v1.body.results as { tags: unknown }[]).map((r) => r.tags), direct.results.map((r) => r.tags));
  const only = await post('/v2/models/livetag/infer', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['包邮吗'] }], outputs: [{ name: 'scores' }] });
  assert.deepEqual((only.body.outputs as { name: string }[]).map((o) => o.name), ['scores']);

  const text = await metrics.registry.metrics();
  assert.match(text, /livetag_http_requests_total\{route="\/v2\/models\/\{name\}\/infer",status="200"\} 2/);
  assert.match(text, /livetag_http_requests_total\{route="\/v1\/classify",status="200"\} 1/);
  assert.match(text, /livetag_http_request_duration_seconds_bucket\{le="60",route="\/v1\/classify"\} 1/);
  assert.match(text, /livetag_build_info\{version="[^"]+",node="[^"]+"\} 1/);
  assert.match(text, /livetag_batch_rows_total\{origin="http"\} [1-9]/);
});

test('bad requests get their own status and a JSON error', async () => {
  const { call, post } = await serve();
  assert.equal((await call('/v2/models/other')).status, 404);
  assert.equal((await call('/v2/models/livetag/infer')).status, 405);
  const notJson = await call('/v1/classify', { method: 'POST', body: '{nope' });
  assert.equal(notJson.status, 400);
  assert.match(String(notJson.body.error), /not JSON/);
  const empty = await post('/v1/classify', { texts: ['  '] });
  assert.equal(empty.status, 400);
  assert.match(String(empty.body.error), /^\/texts\/0: text is empty/);
  const twoInputs = await post('/v2/models/livetag/infer', { inputs: [] });
  assert.equal(twoInputs.status, 400);
  assert.equal((await post('/v1/classify', { texts: Array(9).fill('x') })).status, 413, 'over maxTexts');
  assert.equal((await post('/v1/classify', { texts: ['x'.repeat(5000)] })).status, 413, 'over maxBodyBytes');
});

test('a bearer token guards inference and metadata, not health', async () => {
  const { call, post } = await serve({ token: 's3cret' });
  assert.equal((await call('/v2/health/live')).status, 200);
  const denied = await post('/v1/classify', { texts: ['x'] });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await post('/v1/classify', { texts: ['x'] }, { authorization: 'Bearer wrong!' })).status, 401);
  assert.equal((await post('/v1/classify', { texts: ['x'] }, { authorization: 'Bearer s3cret' })).status, 200);
  assert.equal((await call('/v2/models/livetag')).status, 401);
});

test('over the concurrency cap: 429; past the deadline: 504', async () => {
  // A 300 ms batch wait holds the first request in flight while the second arrives.
  const capped = await serve({ maxConcurrent: 1 }, 300);
  const [a, b] = await Promise.all([capped.post('/v1/classify', { texts: ['一'] }), capped.post('/v1/classify', { texts: ['二'] })]);
  assert.deepEqual([a.status, b.status].sort(), [200, 429]);
  const slow = await serve({ requestTimeoutMs: 20 }, 300);
  const late = await slow.post('/v1/classify', { texts: ['三'] });
  assert.equal(late.status, 504);
  assert.match(String(late.body.error), /20 ms/);
});

test('a request past its deadline keeps its slot until its texts are classified: the next one gets 429, not a place behind it in the queue', async () => {
  // 300 ms of batch wait against a 40 ms deadline.
  const s = await serve({ maxConcurrent: 1, requestTimeoutMs: 40 }, 300);
  const late = await s.post('/v1/classify', { texts: ['一'] });
  assert.equal(late.status, 504);
  const meanwhile = await s.post('/v1/classify', { texts: ['二'] });
  assert.equal(meanwhile.status, 429, 'the first request\'s texts still wait in the batcher');
  // Once the late work ended its slot is free again (its own deadline still bites: 504, not 429).
  // Asked until then, not after a fixed sleep a stalled test process could outlast; a 429 queues nothing.
  let status = 429;
  for (const deadline = Date.now() + 5_000; status === 429 && Date.now() < deadline; ) {
    status = (await s.post('/v1/classify', { texts: ['四'] })).status;
    if (status === 429) await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(status, 504);
});

test('a malformed escape in the model name is the 404 of an unknown model, not a handler failure', async () => {
  const s = await serve();
  const r = await s.call('/v2/models/%E0%A4');
  assert.equal(r.status, 404, JSON.stringify(r.body));
});

test('the answer names the labels of the model that answered (a swap may land while a request runs)', async () => {
  const s = await serve();
  const scores = Object.fromEntries(classifier.labels.map((l, i) => [l, i / 100]));
  // The model that answered had the labels in another order than the one serving now.
  const answered = { results: [{ tags: [], scores }], model: { id: 'older', version: 'v-old' }, labels: [...classifier.labels].reverse() };
  const stage = { ...s.stage, classifier, classifyTexts: async () => answered } as unknown as ClassifyStage;
  const metrics = createServeMetrics();
  const inference = createHttpInference({ modelName: 'livetag', maxBodyBytes: 4096, maxTexts: 8, requestTimeoutMs: 5000, maxConcurrent: 8, stage: () => stage, isReady: () => true, serverVersion: '0.0.0', metrics });
  const server = createHttpServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, isReady: () => true, routes: inference.handle });
  await server.start();
  servers.push(server);
  const res = await fetch(`http://127.0.0.1:${server.port}/v2/models/livetag/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }] }) });
  const body = (await res.json()) as { model_version: string; outputs: Array<{ name: string; data: unknown[] }> };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.model_version, 'v-old');
  const fp32 = (x: number) => Math.fround(x);
  assert.deepEqual(body.outputs.find((o) => o.name === 'scores')?.data.map((x) => fp32(Number(x))), answered.labels.map((l) => fp32(scores[l])), 'scores in the answering model\'s label order');
});

test('serverLimitsFor: the server\'s own caps sit above the inference settings, so their 413 / 429 / 504 come from inference', () => {
  const l = serverLimitsFor({ maxBodyBytes: 8 << 20, maxConcurrent: 64, requestTimeoutMs: 60_000 });
  assert.equal(l.maxBodyBytes, 8 << 20);
  assert.ok(l.maxInFlight! > 64 && l.maxConnections! >= l.maxInFlight!, JSON.stringify(l));
  assert.ok(l.requestTimeoutMs! > 60_000);
  assert.deepEqual(serverLimitsFor({ maxBodyBytes: 1024, maxConcurrent: 4, requestTimeoutMs: 1000 }), { maxBodyBytes: 1024, maxInFlight: 32, maxConnections: 128, requestTimeoutMs: 30_000 }, 'never below the defaults');
});

test('V2 requests are held to their declared shape and input name, texts must not be empty, nested data is flattened', async () => {
  const { V2InferRequestSchema } = await import('../../../src/consumer/kserve-v2.ts');
  const input = (over: Record<string, unknown>) => ({ inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['这个多少钱', '包邮吗'], ...over }] });
  const refused = (body: unknown, why: RegExp): void => {
    const r = V2InferRequestSchema.safeParse(body);
    assert.ok(!r.success && why.test(r.error.issues.map((i) => i.message).join('; ')), JSON.stringify(body));
  };
  assert.ok(V2InferRequestSchema.safeParse(input({})).success);
  refused(input({ shape: [5] }), /shape \[5\] holds 5 texts; data has 2/);
  refused(input({ shape: [-1] }), /concrete dimensions/);
  refused(input({ name: 'bogus' }), /named "text"/);
  refused(input({ data: ['这个多少钱', '  '], shape: [2] }), /text is empty/);
  refused({ ...input({}), outputs: [] }, /at least one output/);
  refused(input({ shape: [1, 0], data: [[]] }), /no texts/);
  const nested = V2InferRequestSchema.parse(input({ shape: [2, 1], data: [['这个多少钱'], ['包邮吗']] }));
  assert.deepEqual(nested.inputs[0].data, ['这个多少钱', '包邮吗']);
});
