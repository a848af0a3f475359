/** The marker Auth.js v5 apps check on the session to force a new sign-in (the default). */
export declare const REFRESH_TOKEN_ERROR: 'RefreshTokenError';

/** The marker of the NextAuth v4 guides: pass it as `errorMarker` where an app checks it. */
export declare const REFRESH_ACCESS_TOKEN_ERROR: 'RefreshAccessTokenError';

/** The fetch this module calls: the global fetch or any function with its shape. */
export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * SupabridgeError is what a failed exchange or refresh throws: the contract's error JSON
 * plus the HTTP status. Client-side failures use status 0 with error "network_error", or
 * the HTTP status with error "invalid_response" when the body is not the contract's JSON.
 */
export declare class SupabridgeError extends Error {
  constructor(
    fields: { error: string; error_description?: string; status?: number },
    options?: { cause?: unknown },
  );
  readonly name: 'SupabridgeError';
  /** The contract's code: invalid_token, invalid_request, invalid_grant, temporarily_unavailable, ... */
  readonly error: string;
  /** Text for a person; never contains a token. */
  readonly error_description: string;
  /** The HTTP status, or 0 when no response arrived. */
  readonly status: number;
  /**
   * False for a refusal (an HTTP 4xx answer): trying again with the same token gets the
   * same answer. True for 5xx answers, network failures and answers that are not the
   * contract's JSON.
   */
  readonly retryable: boolean;
  /**
   * "ABORT_ERR" exactly when retryable is false: supabase-js's fetch-retry loop never
   * retries an error with this code, so a refused token fails the query at once.
   */
  readonly code: 'ABORT_ERR' | undefined;
}

export interface SupabridgeAccessTokenOptions {
  /** The exchange function, e.g. `${supabaseUrl}/functions/v1/exchange`. */
  url: string | URL;
  /** The provider's current token (a JWT), or null/undefined when signed out. Called on every request: keep it cheap. */
  getProviderToken: () => string | null | undefined | Promise<string | null | undefined>;
  /** Defaults to the global fetch, looked up at call time. */
  fetch?: Fetch;
  /** Exchange again this many seconds before expires_at. Default 60. */
  skewSeconds?: number;
  /** The clock, in milliseconds since the epoch (like Date.now, the default). For tests. */
  now?: () => number;
}

/**
 * supabridgeAccessToken returns the function to pass as supabase-js's `accessToken`
 * option: cached until expires_at - skewSeconds, exchanged again when the provider token
 * changes, one exchange for concurrent calls, null without a provider token, and a
 * SupabridgeError when the exchange fails.
 */
export declare function supabridgeAccessToken(
  options: SupabridgeAccessTokenOptions,
): () => Promise<string | null>;

export interface RefreshProviderTokensOptions<M extends string = 'RefreshTokenError'> {
  /** The refresh function, e.g. `${supabaseUrl}/functions/v1/refresh`. */
  url: string | URL;
  /** The provider's name, when the refresh function serves several. */
  provider?: string;
  fetch?: Fetch;
  /** Refresh this many seconds before expires_at. Default 60. */
  skewSeconds?: number;
  /** The clock, in milliseconds since the epoch (like Date.now, the default). For tests. */
  now?: () => number;
  /**
   * The `error` a failed refresh sets: "RefreshTokenError" (Auth.js v5) by default,
   * REFRESH_ACCESS_TOKEN_ERROR for apps written after the NextAuth v4 guides.
   */
  errorMarker?: M;
}

/** The fields refreshProviderTokens reads from and writes to the Auth.js token. */
export interface ProviderTokenFields<M extends string = 'RefreshTokenError'> {
  /** The provider's access token. */
  access_token?: string;
  /** The provider's ID token. */
  id_token?: string;
  /** The provider's refresh token; kept when the provider does not rotate. */
  refresh_token?: string;
  /** When to refresh, in seconds since the epoch. */
  expires_at?: number;
  /** The Supabase JWT minted by the last refresh. */
  supabase_access_token?: string;
  /** Set (to the errorMarker) when the last refresh failed; cleared by a successful one. */
  error?: M;
  /** The contract's error code of the failed refresh (invalid_grant means: sign in again). */
  refresh_error?: string;
}

/**
 * refreshProviderTokens is the body of an Auth.js / NextAuth `jwt` callback after sign-in:
 * it returns the token unchanged until expires_at - skewSeconds, then refreshes through
 * supabridge's refresh function, or marks the token with `error` set to the errorMarker
 * ("RefreshTokenError" by default).
 */
export declare function refreshProviderTokens<T extends object, M extends string = 'RefreshTokenError'>(
  token: T,
  options: RefreshProviderTokensOptions<M>,
): Promise<T & ProviderTokenFields<M>>;
