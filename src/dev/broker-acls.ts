/**
 * ACLs of the secured local broker. Kafka 4's ACL tool lives in kafka-tools,
 * which is not on the broker's classpath, and the Kafka port has no ACL call
 * (services never manage ACLs), so a few lines of Java on the broker's own
 * kafka-clients jar create them: `java` runs a single source file directly.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LivetagError } from '../common/errors.ts';
import type { JvmLaunch } from './broker-config.ts';
import type { BrokerSecurity } from './broker-security.ts';

export type AclEntry = {
  readonly principal: string;
  readonly resourceType: 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID' | 'CLUSTER';
  readonly patternType: 'LITERAL' | 'PREFIXED';
  readonly name: string;
  readonly operation: 'READ' | 'WRITE' | 'CREATE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS' | 'IDEMPOTENT_WRITE';
};

/** The service principal's ACLs: only resources under its prefix, nothing else (and no ALTER/DELETE). */
export function serviceAcls(security: BrokerSecurity): AclEntry[] {
  const principal = `User:${security.service.username}`;
  const prefix = security.resourcePrefix;
  const allow = (resourceType: AclEntry['resourceType'], name: string, patternType: AclEntry['patternType'], ops: AclEntry['operation'][]) =>
    ops.map((operation) => ({ principal, resourceType, patternType, name, operation }));
  return [
    ...allow('TOPIC', prefix, 'PREFIXED', ['READ', 'WRITE', 'CREATE', 'DESCRIBE', 'DESCRIBE_CONFIGS']),
    ...allow('GROUP', prefix, 'PREFIXED', ['READ', 'DESCRIBE']),
    ...allow('TRANSACTIONAL_ID', prefix, 'PREFIXED', ['WRITE', 'DESCRIBE']),
    ...allow('CLUSTER', 'kafka-cluster', 'LITERAL', ['IDEMPOTENT_WRITE']),
  ];
}

const JAVA_SOURCE = `
import java.io.*;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.resource.*;

public class LivetagAcls {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    try (InputStream in = new FileInputStream(args[0])) { props.load(in); }
    List<AclBinding> acls = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new FileReader(args[1]))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.isBlank()) continue;
        String[] f = line.split("\\t");
        acls.add(new AclBinding(
          new ResourcePattern(ResourceType.valueOf(f[1]), f[3], PatternType.valueOf(f[2])),
          new AccessControlEntry(f[0], "*", AclOperation.valueOf(f[4]), AclPermissionType.ALLOW)));
      }
    }
    try (Admin admin = Admin.create(props)) { admin.createAcls(acls).all().get(); }
    System.out.println("created " + acls.size() + " ACLs");
  }
}
`;

/** Creates the ACLs as the admin user over the SASL_SSL listener; creating an existing ACL is a no-op. */
export async function createAcls(launch: JvmLaunch, dir: string, security: BrokerSecurity, brokers: string, acls: readonly AclEntry[]): Promise<void> {
  const work = path.join(dir, 'acls');
  fs.mkdirSync(work, { recursive: true, mode: 0o700 });
  const source = path.join(work, 'LivetagAcls.java');
  fs.writeFileSync(source, JAVA_SOURCE);
  const propsFile = path.join(work, 'admin.properties');
  const { admin, tls } = security;
  fs.writeFileSync(
    propsFile,
    [
      `bootstrap.servers=${brokers}`,
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${admin.username}" password="${admin.password}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${tls.caCert}`,
      // Under mTLS the admin presents the broker's certificate (it is signed by the same CA).
      ...(security.mtls ? ['ssl.keystore.type=PEM', `ssl.keystore.location=${tls.brokerKeystore}`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const aclFile = path.join(work, 'acls.tsv');
  fs.writeFileSync(aclFile, acls.map((a) => [a.principal, a.resourceType, a.patternType, a.name, a.operation].join('\t')).join('\n') + '\n');
  const classpath = launch.args.slice(launch.args.indexOf('-cp'));
  const { code, output } = await run(launch.java, ['-XX:TieredStopAtLevel=1', '-Xshare:auto', ...classpath, source, propsFile, aclFile]);
  if (code !== 0) throw new LivetagError('LT_BROKER', `cannot create the secured broker's ACLs (exit ${code}):\n${output.trim().split('\n').slice(-15).join('\n')}`);
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => resolve({ code: -1, output: err.message }));
    child.once('close', (code) => resolve({ code, output }));
  });
}
