/**
 * Telling authentication and authorization failures apart from the transient
 * rest, for both client libraries: a wrong password or a missing ACL must end
 * the process at once with a clear code, not be retried for minutes as a
 * "Kafka operation failed". Neither library's messages carry the secret.
 */
import type { ErrorCode } from '../common/errors.ts';

type Judged = { name?: unknown; message?: unknown; type?: unknown; code?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };

/** librdkafka's token-refresh hook hands our LT_KAFKA_AUTH back as a plain Error with this message. */
const REFUSED_TOKEN = /^oauthbearer_token_refresh_cb: OAuth token endpoint \S+ refused client/;

/** Kafka protocol errors of the *_AUTHORIZATION_FAILED family and librdkafka's codes for them. */
const DENIED_TYPES = /^(TOPIC|GROUP|CLUSTER|TRANSACTIONAL_ID|DELEGATION_TOKEN)_AUTHORIZATION_FAILED$/;
const DENIED_CODES = new Set([29, 30, 31, 53]);
/** SASL_AUTHENTICATION_FAILED (58), UNSUPPORTED_SASL_MECHANISM (33), librdkafka's __AUTHENTICATION (-169) and __SSL (-181). */
const AUTH_CODES = new Set([58, 33, -169, -181]);
/** Node tls verification failures: the broker's certificate is not trusted, so the client never logs in. */
const TLS_CODES =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_REVOKED|CERT_UNTRUSTED|CERT_REJECTED|CERT_SIGNATURE_FAILURE|INVALID_CA|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * TLS alerts by which the broker refused the client's certificate (mTLS), as
 * Node's OpenSSL names them: bad (42), unsupported (43), revoked (44),
 * expired (45) or unknown (46) certificate, unknown CA (48), access denied
 * (49), certificate required (116, TLS 1.3).
 */
const TLS_ALERTS = /^ERR_SSL_(SSLV3_ALERT_(BAD|UNSUPPORTED)_CERTIFICATE|SSLV3_ALERT_CERTIFICATE_(REVOKED|EXPIRED|UNKNOWN)|TLSV1_ALERT_(UNKNOWN_CA|ACCESS_DENIED)|TLSV13_ALERT_CERTIFICATE_REQUIRED)$/;

/** LT_KAFKA_AUTH, LT_KAFKA_DENIED, or undefined for everything else; looks through wrapped causes. */
export function authErrorCode(err: unknown, depth = 0): Extract<ErrorCode, 'LT_KAFKA_AUTH' | 'LT_KAFKA_DENIED'> | undefined {
  if (!err || typeof err !== 'object' || depth > 6) return undefined;
  const e = err as Judged;
  if (e.name === 'KafkaJSSASLAuthenticationError') return 'LT_KAFKA_AUTH';
  if (typeof e.message === 'string' && REFUSED_TOKEN.test(e.message)) return 'LT_KAFKA_AUTH';
  if (e.type === 'SASL_AUTHENTICATION_FAILED' || e.type === 'UNSUPPORTED_SASL_MECHANISM') return 'LT_KAFKA_AUTH';
  if (typeof e.type === 'string' && DENIED_TYPES.test(e.type)) return 'LT_KAFKA_DENIED';
  if (typeof e.code === 'number' && DENIED_CODES.has(e.code)) return 'LT_KAFKA_DENIED';
  if (typeof e.code === 'number' && AUTH_CODES.has(e.code)) return 'LT_KAFKA_AUTH';
  if (typeof e.code === 'string' && (TLS_CODES.test(e.code) || TLS_ALERTS.test(e.code))) return 'LT_KAFKA_AUTH';
  for (const inner of [e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = authErrorCode(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}
