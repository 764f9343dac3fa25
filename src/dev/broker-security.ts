/**
 * The secured local broker (`livetag kafka start --secure`): one SASL_SSL
 * client listener with SCRAM-SHA-512 users (and OAUTHBEARER, validated by
 * Kafka's unsecured-JWS validator for tests), TLS from broker-tls.ts, the
 * StandardAuthorizer denying all but what ACLs allow, and the client settings
 * written as LIVETAG_KAFKA_* lines a shell can `source`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KafkaConnection } from '../kafka/connection.ts';
import { BROKER_CN, ensureBrokerTls, type BrokerTlsFiles } from './broker-tls.ts';

export type BrokerSecurityOptions = {
  /** Require a client certificate signed by the broker's CA as well as SASL. */
  readonly mtls?: boolean;
  /** Prefix of the topics, groups and transactional ids the service principal may use; default 'livetag'. */
  readonly resourcePrefix?: string;
};

export type SecureUser = { readonly username: string; readonly password: string; readonly passwordFile: string };

export type BrokerSecurity = {
  readonly mtls: boolean;
  readonly resourcePrefix: string;
  readonly tls: BrokerTlsFiles;
  /** Super user: creates topics and ACLs. */
  readonly admin: SecureUser;
  /** The service's principal: only its own topics, groups and transactional ids. */
  readonly service: SecureUser;
};

export const SERVICE_USER = 'livetag';
export const ADMIN_USER = 'admin';
const SCRAM = 'SCRAM-SHA-512';

/** Certificates and passwords, made once per directory so a kept --dir keeps its clients' settings valid. */
export function prepareBrokerSecurity(dir: string, options: BrokerSecurityOptions = {}): BrokerSecurity {
  const secrets = path.join(dir, 'secrets');
  fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
  const user = (username: string): SecureUser => {
    const passwordFile = path.join(secrets, `${username}.password`);
    // base64url: no characters that the SCRAM format argument or a JAAS string would need escaped.
    if (!fs.existsSync(passwordFile)) fs.writeFileSync(passwordFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
    return { username, password: fs.readFileSync(passwordFile, 'utf8').trim(), passwordFile };
  };
  return {
    mtls: options.mtls ?? false,
    resourcePrefix: options.resourcePrefix ?? 'livetag',
    tls: ensureBrokerTls(dir),
    admin: user(ADMIN_USER),
    service: user(SERVICE_USER),
  };
}

/** `kafka-storage format` arguments that create the SCRAM users with the metadata itself. */
export function scramFormatArgs(security: BrokerSecurity): string[] {
  return [security.admin, security.service].flatMap((u) => ['--add-scram', `${SCRAM}=[name=${u.username},password=${u.password}]`]);
}

/** What replaces the PLAINTEXT listener lines of serverProperties(). */
export function secureServerProperties(security: BrokerSecurity, ports: { client: number; controller: number }): Record<string, string> {
  const { tls, admin } = security;
  const jaas = (module: string, args: string) => `org.apache.kafka.common.security.${module} required ${args};`;
  return {
    'listeners': `SASL_SSL://127.0.0.1:${ports.client},CONTROLLER://127.0.0.1:${ports.controller}`,
    'advertised.listeners': `SASL_SSL://127.0.0.1:${ports.client}`,
    'inter.broker.listener.name': 'SASL_SSL',
    // The controller listener is TLS with client certificates, not PLAINTEXT:
    // no listener of this broker lets an unauthenticated client in.
    'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,CONTROLLER:SSL',
    'listener.name.controller.ssl.client.auth': 'required',
    'sasl.enabled.mechanisms': `${SCRAM},OAUTHBEARER`,
    'sasl.mechanism.inter.broker.protocol': SCRAM,
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': jaas('scram.ScramLoginModule', `username="${admin.username}" password="${admin.password}"`),
    // No JWKS endpoint configured: Kafka validates OAUTHBEARER tokens with its
    // unsecured-JWS validator (unsigned tokens, `sub` is the principal) — a test-only setup.
    'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config': jaas('oauthbearer.OAuthBearerLoginModule', `unsecuredLoginStringClaim_sub="${admin.username}"`),
    'listener.name.sasl_ssl.ssl.client.auth': security.mtls ? 'required' : 'none',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': tls.brokerKeystore,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': tls.caCert,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'allow.everyone.if.no.acl.found': 'false',
    'super.users': `User:${admin.username};User:CN=${BROKER_CN}`,
  };
}

/** How a client logs in as `user`: TLS with the broker's CA (and the client certificate under mTLS), SCRAM. */
export function secureConnection(security: BrokerSecurity, user: SecureUser): Pick<KafkaConnection, 'ssl' | 'sasl'> {
  const read = (f: string) => fs.readFileSync(f, 'utf8');
  return {
    ssl: {
      ca: read(security.tls.caCert),
      ...(security.mtls ? { cert: read(security.tls.clientCert), key: read(security.tls.clientKey) } : {}),
    },
    sasl: { mechanism: 'scram-sha-512', username: user.username, password: user.password },
  };
}

/** The service's client settings as `KEY=value` lines (a shell can `source` them); the password stays in its file. */
export function envFileText(security: BrokerSecurity, brokers: string): string {
  const lines: Array<[string, string]> = [
    ['KAFKA_BROKERS', brokers],
    ['LIVETAG_KAFKA_BROKERS', brokers],
    ['LIVETAG_KAFKA_SASL_MECHANISM', 'scram-sha-512'],
    ['LIVETAG_KAFKA_SASL_USERNAME', security.service.username],
    ['LIVETAG_KAFKA_SASL_PASSWORD_FILE', security.service.passwordFile],
    ['LIVETAG_KAFKA_TLS', 'true'],
    ['LIVETAG_KAFKA_TLS_CA_FILE', security.tls.caCert],
    ...(security.mtls
      ? ([['LIVETAG_KAFKA_TLS_CERT_FILE', security.tls.clientCert], ['LIVETAG_KAFKA_TLS_KEY_FILE', security.tls.clientKey]] as Array<[string, string]>)
      : []),
  ];
  return lines.map(([k, v]) => `${k}=${shellQuote(v)}`).join('\n') + '\n';
}

function shellQuote(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
