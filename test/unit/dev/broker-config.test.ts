import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { isLivetagError } from '../../../src/common/errors.ts';
import { assertPortsFree, pickPorts, writeBrokerFiles } from '../../../src/dev/broker-config.ts';
import { tempDir } from '../../helpers/shared.ts';

test('pickPorts keeps given ports and never picks the same port twice', async () => {
  assert.deepEqual(await pickPorts(9092, 9093), { client: 9092, controller: 9093 });
  const picked = await pickPorts();
  assert.notEqual(picked.client, picked.controller);
  const half = await pickPorts(picked.client);
  assert.equal(half.client, picked.client);
  assert.notEqual(half.controller, picked.client);
});

test('a port someone else holds is LT_BROKER, named, before any JVM starts', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const held = (server.address() as net.AddressInfo).port;
  try {
    const free = await pickPorts();
    await assertPortsFree({ client: free.client, controller: free.controller });
    await assert.rejects(
      assertPortsFree({ client: free.client, controller: held }),
      (e: unknown) => isLivetagError(e, 'LT_BROKER') && e.message.includes(`controller port 127.0.0.1:${held}`),
    );
  } finally {
    server.close();
  }
});

test('writeBrokerFiles writes a single-node KRaft config and the launch line', () => {
  const dir = join(tempDir(), 'broker');
  const launch = writeBrokerFiles(dir, { client: 19092, controller: 19093 }, '/cache/lib', { heap: '256m', jit: 'startup' });
  const props = readFileSync(launch.configFile, 'utf8');
  assert.match(props, /^listeners=PLAINTEXT:\/\/127\.0\.0\.1:19092,CONTROLLER:\/\/127\.0\.0\.1:19093$/m);
  assert.match(props, /^controller\.quorum\.voters=1@127\.0\.0\.1:19093$/m);
  assert.match(props, /^offsets\.topic\.replication\.factor=1$/m);
  assert.ok(props.includes(`log.dirs=${join(dir, 'data')}`));
  assert.deepEqual(launch.args.slice(-2), ['-cp', join('/cache/lib', '*')]);
  assert.ok(launch.args.includes('-Xmx256m') && launch.args.includes('-XX:TieredStopAtLevel=1'));
  assert.ok(readFileSync(join(dir, 'log4j2.properties'), 'utf8').includes('rootLogger.level = info'));
  const throughput = writeBrokerFiles(dir, { client: 1, controller: 2 }, '/lib', { heap: '1g', jit: 'throughput' });
  assert.ok(!throughput.args.includes('-XX:TieredStopAtLevel=1'));
  // A secure broker's JAAS line holds the super user's password: owner only, also when rewritten over an older file.
  assert.equal(statSync(launch.configFile).mode & 0o777, 0o600);
});
