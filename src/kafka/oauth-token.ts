/**
 * SASL OAUTHBEARER tokens for kafkajs: the OIDC client-credentials grant
 * (RFC 6749 §4.4) against LIVETAG_KAFKA_OAUTH_TOKEN_URL. kafkajs asks for a
 * token at every new broker connection; one token is shared until it nears
 * expiry, so a reconnect storm is not a token-endpoint storm and no
 * connection ever authenticates with a token about to expire.
 * (librdkafka fetches and refreshes tokens itself: confluent-mapping.ts.)
 */
import { z } from 'zod';
import { LivetagError } from '../common/errors.ts';
import type { OAuthSettings } from './connection.ts';

export type OAuthToken = {
  readonly value: string;
  /** Epoch ms at which the token expires. */
  readonly expiresAt: number;
  /** The token's `sub`, where the token is a JWT. */
  readonly principal?: string;
};

export type OAuthTokenSource = { token(): Promise<OAuthToken> };

type Fetch = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<Response>;

const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
});

/** Without expires_in, assume a short life rather than forever. */
const DEFAULT_LIFETIME_S = 300;

/**
 * Refreshes once 80% of the token's lifetime has passed (librdkafka's rule),
 * and at the latest 30 s before it expires. Concurrent callers share one fetch.
 */
export function createOAuthTokenSource(settings: OAuthSettings, deps: { fetch?: Fetch; now?: () => number; timeoutMs?: number } = {}): OAuthTokenSource {
  const now = deps.now ?? Date.now;
  const fetchImpl: Fetch = deps.fetch ?? ((url, init) => fetch(url, init));
  let current: { token: OAuthToken; refreshAt: number } | undefined;
  let inFlight: Promise<OAuthToken> | undefined;

  async function fetchToken(): Promise<OAuthToken> {
    const issuedAt = now();
    const body = new URLSearchParams({ grant_type: 'client_credentials', ...(settings.scope ? { scope: settings.scope } : {}) });
    const basic = Buffer.from(`${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`).toString('base64');
    let res: Response;
    try {
      res = await fetchImpl(settings.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept': 'application/json', 'authorization': `Basic ${basic}` },
        body: body.toString(),
        signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new LivetagError('LT_KAFKA', `OAuth token endpoint ${settings.tokenUrl} unreachable: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) {
      // A 4xx judged the credentials (invalid_client...): retrying will not change its mind. A busy,
      // rate-limited or failing endpoint (408, 429, 5xx) is no verdict: retried like an outage, never
      // worded "refused" (the confluent adapter reads that word as a refused login).
      if (res.status >= 500 || res.status === 408 || res.status === 429) {
        throw new LivetagError('LT_KAFKA', `OAuth token endpoint ${settings.tokenUrl} answered HTTP ${res.status} ${errorField(text)}`.trim(), { retryable: true });
      }
      throw new LivetagError('LT_KAFKA_AUTH', `OAuth token endpoint ${settings.tokenUrl} refused client ${settings.clientId}: HTTP ${res.status} ${errorField(text)}`.trim());
    }
    const parsed = TokenResponse.safeParse(safeJson(text));
    if (!parsed.success) throw new LivetagError('LT_KAFKA_AUTH', `OAuth token endpoint ${settings.tokenUrl} answered without an access_token`);
    const lifetimeMs = (parsed.data.expires_in ?? DEFAULT_LIFETIME_S) * 1000;
    const token: OAuthToken = { value: parsed.data.access_token, expiresAt: issuedAt + lifetimeMs, ...principalOf(parsed.data.access_token) };
    current = { token, refreshAt: Math.min(issuedAt + lifetimeMs * 0.8, token.expiresAt - 30_000) };
    return token;
  }

  return {
    async token() {
      if (current && now() < current.refreshAt) return current.token;
      inFlight ??= fetchToken().finally(() => (inFlight = undefined));
      return inFlight;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The OAuth `error` code only: an error page may echo request data, which must not reach logs. */
function errorField(text: string): string {
  const code = (safeJson(text) as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? `(${code})` : '';
}

function principalOf(jwt: string): { principal?: string } {
  const payload = jwt.split('.')[1];
  if (!payload) return {};
  const sub = (safeJson(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown } | undefined)?.sub;
  return typeof sub === 'string' ? { principal: sub } : {};
}
