/**
 * How livetag reaches Kafka, for every command alike (serve, train
 * --labels-topic, models promote, demo): brokers, client library, TLS, SASL,
 * read from the LIVETAG_KAFKA_* variables and nothing else, so a bad setting
 * of another command (say LIVETAG_HTTP_PORT) never breaks this one.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LivetagError } from '../common/errors.ts';
import { deepFreeze } from '../common/freeze.ts';
import { parseSettings, readSecretSetting, settingBool, settingCsv, type ParsedSettings } from '../common/env-settings.ts';
import type { KafkaClientName } from './port.ts';

const secretFile = z.string().min(1);

export const KAFKA_SETTINGS = {
  LIVETAG_KAFKA_BROKERS: { schema: settingCsv, default: '127.0.0.1:9092', doc: 'Comma-separated Kafka bootstrap brokers (host:port).' },
  LIVETAG_KAFKA_CLIENT_ID: { schema: z.string().min(1), default: 'livetag', doc: 'Kafka client id.' },
  LIVETAG_KAFKA_CLIENT: {
    schema: z.enum(['kafkajs', 'confluent']),
    default: 'kafkajs',
    doc: 'Kafka client library: kafkajs, or confluent (@confluentinc/kafka-javascript, librdkafka; an optional dependency that must have built).',
  },
  LIVETAG_KAFKA_SASL_MECHANISM: {
    schema: z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer']),
    default: undefined,
    doc: 'SASL mechanism; unset for none. oauthbearer takes its token from LIVETAG_KAFKA_OAUTH_* (OIDC client credentials).',
  },
  // Trimmed, as the password file is: a Secret made --from-file keeps the file's trailing newline.
  LIVETAG_KAFKA_SASL_USERNAME: { schema: z.string().trim().min(1), default: undefined, doc: 'SASL user name.' },
  LIVETAG_KAFKA_SASL_PASSWORD_FILE: { schema: secretFile, default: undefined, doc: 'File holding the SASL password (e.g. a mounted Secret).' },
  LIVETAG_KAFKA_TLS: { schema: settingBool, default: 'false', doc: 'Connect to Kafka over TLS.' },
  LIVETAG_KAFKA_TLS_CA_FILE: { schema: secretFile, default: undefined, doc: 'PEM file of the CA that signed the brokers\' certificates.' },
  LIVETAG_KAFKA_TLS_CERT_FILE: { schema: secretFile, default: undefined, doc: 'PEM client certificate for mutual TLS.' },
  LIVETAG_KAFKA_TLS_KEY_FILE: { schema: secretFile, default: undefined, doc: 'PEM client key for mutual TLS.' },
  LIVETAG_KAFKA_OAUTH_TOKEN_URL: { schema: z.url({ protocol: /^https?$/ }), default: undefined, doc: 'OIDC token endpoint for SASL OAUTHBEARER (client-credentials grant).' },
  LIVETAG_KAFKA_OAUTH_CLIENT_ID: { schema: z.string().trim().min(1), default: undefined, doc: 'OAuth client id for SASL OAUTHBEARER.' },
  LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE: { schema: secretFile, default: undefined, doc: 'File holding the OAuth client secret for SASL OAUTHBEARER.' },
  LIVETAG_KAFKA_OAUTH_SCOPE: { schema: z.string().min(1), default: undefined, doc: 'OAuth scope(s) to request, space-separated; unset for none.' },
} as const;

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** OIDC client credentials; the adapters fetch and refresh the token (oauth-token.ts). */
export interface OAuthSettings {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
}

export type SaslSettings =
  | { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string }
  | { readonly mechanism: 'oauthbearer'; readonly oauth: OAuthSettings };

export interface KafkaConnection {
  readonly client: KafkaClientName;
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: { readonly ca?: string; readonly cert?: string; readonly key?: string } | true;
  readonly sasl?: SaslSettings;
}

/**
 * Parses the connection settings; problems are appended to `problems` (when
 * given) so a caller that parses more settings reports all of them at once,
 * or thrown as one LT_CONFIG_INVALID.
 */
export function loadKafkaConnection(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof typeof KAFKA_SETTINGS, string>> = {},
  problems?: string[],
): KafkaConnection {
  const { values, input, problems: found } = parseSettings(KAFKA_SETTINGS, env, overrides);
  const read = (key: string) => readSecretSetting((p) => readFileSync(p, 'utf8'), key, input, found);
  const password = read('LIVETAG_KAFKA_SASL_PASSWORD_FILE');
  const ca = read('LIVETAG_KAFKA_TLS_CA_FILE');
  const cert = read('LIVETAG_KAFKA_TLS_CERT_FILE');
  const key = read('LIVETAG_KAFKA_TLS_KEY_FILE');
  const clientSecret = read('LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE');
  const oauth = input.LIVETAG_KAFKA_SASL_MECHANISM === 'oauthbearer';
  if (input.LIVETAG_KAFKA_SASL_MECHANISM && !oauth && (!input.LIVETAG_KAFKA_SASL_USERNAME || !input.LIVETAG_KAFKA_SASL_PASSWORD_FILE)) {
    found.push('LIVETAG_KAFKA_SASL_MECHANISM is set: LIVETAG_KAFKA_SASL_USERNAME and LIVETAG_KAFKA_SASL_PASSWORD_FILE are required');
  }
  if (oauth && (!input.LIVETAG_KAFKA_OAUTH_TOKEN_URL || !input.LIVETAG_KAFKA_OAUTH_CLIENT_ID || !input.LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE)) {
    found.push('LIVETAG_KAFKA_SASL_MECHANISM=oauthbearer: LIVETAG_KAFKA_OAUTH_TOKEN_URL, LIVETAG_KAFKA_OAUTH_CLIENT_ID and LIVETAG_KAFKA_OAUTH_CLIENT_SECRET_FILE are required');
  }
  if (Boolean(cert) !== Boolean(key) && (input.LIVETAG_KAFKA_TLS_CERT_FILE || input.LIVETAG_KAFKA_TLS_KEY_FILE)) {
    found.push('LIVETAG_KAFKA_TLS_CERT_FILE and LIVETAG_KAFKA_TLS_KEY_FILE go together');
  }
  if (problems) problems.push(...found);
  else if (found.length > 0) throw invalid(found);
  const tls = values.LIVETAG_KAFKA_TLS || ca || cert;
  return deepFreeze({
    client: values.LIVETAG_KAFKA_CLIENT ?? 'kafkajs',
    brokers: values.LIVETAG_KAFKA_BROKERS ?? [],
    clientId: values.LIVETAG_KAFKA_CLIENT_ID ?? 'livetag',
    ...(tls ? { ssl: ca || cert ? { ca, cert, key } : (true as const) } : {}),
    ...saslOf(values, password, clientSecret),
  });
}

function saslOf(values: ParsedSettings<typeof KAFKA_SETTINGS>, password?: string, clientSecret?: string): { sasl?: SaslSettings } {
  const mechanism = values.LIVETAG_KAFKA_SASL_MECHANISM;
  if (!mechanism) return {};
  if (mechanism !== 'oauthbearer') return { sasl: { mechanism, username: values.LIVETAG_KAFKA_SASL_USERNAME!, password: password! } };
  const scope = values.LIVETAG_KAFKA_OAUTH_SCOPE;
  return {
    sasl: {
      mechanism,
      oauth: { tokenUrl: values.LIVETAG_KAFKA_OAUTH_TOKEN_URL!, clientId: values.LIVETAG_KAFKA_OAUTH_CLIENT_ID!, clientSecret: clientSecret!, ...(scope ? { scope } : {}) },
    },
  };
}

/**
 * Settings that work but send a secret in the clear: refusing them would break
 * clusters inside a private network that chose so, so they are said aloud instead.
 */
export function insecureConnectionWarnings(connection: Pick<KafkaConnection, 'ssl' | 'sasl'>): string[] {
  const sasl = connection.sasl;
  if (!sasl) return [];
  const warnings: string[] = [];
  if (!connection.ssl && (sasl.mechanism === 'plain' || sasl.mechanism === 'oauthbearer')) {
    const secret = sasl.mechanism === 'plain' ? 'the SASL password' : 'the OAuth access token';
    warnings.push(`SASL ${sasl.mechanism.toUpperCase()} without TLS sends ${secret} to the brokers in the clear; set LIVETAG_KAFKA_TLS=true unless the network is trusted`);
  }
  if (sasl.mechanism === 'oauthbearer') {
    const url = new URL(sasl.oauth.tokenUrl);
    const loopback = url.hostname === 'localhost' || /^127\./.test(url.hostname) || url.hostname === '[::1]';
    if (url.protocol === 'http:' && !loopback) warnings.push(`LIVETAG_KAFKA_OAUTH_TOKEN_URL ${url.origin} is plain http: the client secret crosses the network in the clear; use https`);
  }
  return warnings;
}

/** One LT_CONFIG_INVALID listing every problem. */
export function invalid(problems: readonly string[]): LivetagError {
  return new LivetagError('LT_CONFIG_INVALID', `invalid configuration (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  - ${problems.join('\n  - ')}`);
}
