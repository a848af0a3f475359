// supabridge client: the glue between a frontend and supabridge's exchange and refresh
// functions. Dependency-free ES module; runs in browsers, Node 20+, Deno, Bun and edge
// runtimes (it needs only fetch, URL, JSON and atob).
//
// It never logs: tokens pass through it, so it writes nothing to the console and puts no
// token into an error message.

/** The marker Auth.js v5 apps check on the session to force a new sign-in (the default). */
export const REFRESH_TOKEN_ERROR = 'RefreshTokenError';

/** The marker of the NextAuth v4 guides, for apps that check it: pass it as `errorMarker`. */
export const REFRESH_ACCESS_TOKEN_ERROR = 'RefreshAccessTokenError';

const DEFAULT_SKEW_SECONDS = 60;

/**
 * SupabridgeError is what a failed exchange or refresh throws. It carries the contract's
 * error JSON ({error, error_description}) and the HTTP status. Failures that never got a
 * contract answer use status 0 and the client-side codes "network_error" (fetch threw) or
 * "invalid_response" (the body was not the contract's JSON).
 *
 * A refusal (an HTTP 4xx answer: the same token would be refused again) has
 * `retryable: false` and `code: "ABORT_ERR"`. supabase-js (postgrest-js 2.105 and later)
 * retries a GET whose fetch rejects, after 1, 2 and 4 s, unless the rejection is an abort,
 * which it recognises by that code; so a refused provider token costs one exchange and the
 * query fails at once. Everything else (502, network failures) may pass: it is retryable and
 * has no code.
 */
export class SupabridgeError extends Error {
  /**
   * @param {{error: string, error_description?: string, status?: number}} fields
   * @param {{cause?: unknown}} [options]
   */
  constructor({ error, error_description = '', status = 0 }, options) {
    super(error_description ? `${error}: ${error_description}` : error, options);
    this.name = 'SupabridgeError';
    this.error = error;
    this.error_description = error_description;
    this.status = status;
    /** @type {boolean} */
    this.retryable = !(status >= 400 && status < 500);
    /** @type {'ABORT_ERR' | undefined} */
    this.code = this.retryable ? undefined : ABORT_ERR;
  }
}

/** The code supabase-js's fetch-retry loop treats as "never retry" (Node's AbortError code). */
const ABORT_ERR = 'ABORT_ERR';

/**
 * supabridgeAccessToken returns the function to pass as supabase-js's `accessToken` option.
 *
 * It asks `getProviderToken` for the provider's current token on every call, and
 * - returns null when there is none (supabase-js then sends the anon key);
 * - returns the cached Supabase JWT while the provider token is unchanged and
 *   now < expires_at - skewSeconds;
 * - otherwise POSTs the provider token as a bearer token to `url` (the exchange function),
 *   merging concurrent calls for the same provider token into one request;
 * - throws SupabridgeError when the exchange fails, and drops the cached token, so no
 *   request goes out with a stale one.
 *
 * @param {object} options
 * @param {string | URL} options.url the exchange function, e.g. `${supabaseUrl}/functions/v1/exchange`
 * @param {() => (string | null | undefined | Promise<string | null | undefined>)} options.getProviderToken
 * @param {typeof fetch} [options.fetch] defaults to the global fetch, looked up at call time
 * @param {number} [options.skewSeconds] renew this many seconds before expires_at (default 60)
 * @param {() => number} [options.now] the clock in milliseconds since the epoch, like Date.now (the default)
 * @returns {() => Promise<string | null>}
 */
export function supabridgeAccessToken(options) {
  const { url, getProviderToken, skewSeconds = DEFAULT_SKEW_SECONDS } = options ?? {};
  checkURL(url, 'supabridgeAccessToken');
  if (typeof getProviderToken !== 'function') {
    throw new TypeError('supabridgeAccessToken: getProviderToken must be a function');
  }
  checkSkew(skewSeconds, 'supabridgeAccessToken');
  const fetcher = fetchOption(options.fetch, 'supabridgeAccessToken');
  const now = clockOption(options.now, 'supabridgeAccessToken');
  const endpoint = String(url);

  /** @type {{providerToken: string, token: string, expiresAt: number} | null} */
  let cached = null;
  /** @type {{providerToken: string, promise: Promise<string>} | null} */
  let inflight = null;

  return async function accessToken() {
    const providerToken = await getProviderToken();
    if (!providerToken) {
      cached = null; // signed out: forget the Supabase token too
      return null;
    }
    if (
      cached !== null &&
      cached.providerToken === providerToken &&
      now() / 1000 < cached.expiresAt - skewSeconds
    ) {
      return cached.token;
    }
    if (inflight !== null && inflight.providerToken === providerToken) {
      return inflight.promise;
    }
    cached = null;
    const flight = { providerToken, promise: Promise.resolve('') };
    flight.promise = exchange(fetcher, endpoint, providerToken, now).then(
      ({ token, expiresAt }) => {
        // A flight overtaken by one for a newer provider token answers its own callers
        // but must not replace the newer cache.
        if (inflight === flight) cached = { providerToken, token, expiresAt };
        return token;
      },
    );
    inflight = flight;
    const clear = () => {
      if (inflight === flight) inflight = null;
    };
    flight.promise.then(clear, clear);
    return flight.promise;
  };
}

/**
 * refreshProviderTokens is the body of an Auth.js / NextAuth `jwt` callback after sign-in.
 *
 * While `token.expires_at` (seconds) is more than skewSeconds away it returns `token` as
 * is. Otherwise it sends `token.refresh_token` to the refresh function at `url` and
 * returns a new token object with the provider's new access_token, id_token and
 * refresh_token (the old refresh token is kept when the provider does not rotate),
 * expires_at, and the Supabase JWT as supabase_access_token. When the refresh fails it
 * returns the token with `error` set to errorMarker ("RefreshTokenError", Auth.js v5's, by
 * default; REFRESH_ACCESS_TOKEN_ERROR for NextAuth v4 apps) and refresh_error set to the
 * contract's error code. Concurrent calls for one refresh token share one request, so a
 * rotating provider never sees the same refresh token twice from this process.
 *
 * @template {object} T
 * @param {T} token the NextAuth JWT
 * @param {object} options
 * @param {string | URL} options.url the refresh function, e.g. `${supabaseUrl}/functions/v1/refresh`
 * @param {string} [options.provider] the provider's name, when the function serves several
 * @param {typeof fetch} [options.fetch]
 * @param {number} [options.skewSeconds] refresh this many seconds before expires_at (default 60)
 * @param {() => number} [options.now] the clock in milliseconds since the epoch, like Date.now
 * @param {string} [options.errorMarker] the `error` a failed refresh sets (default "RefreshTokenError")
 */
export async function refreshProviderTokens(token, options) {
  const { url, provider, skewSeconds = DEFAULT_SKEW_SECONDS, errorMarker = REFRESH_TOKEN_ERROR } = options ?? {};
  checkURL(url, 'refreshProviderTokens');
  checkSkew(skewSeconds, 'refreshProviderTokens');
  if (provider !== undefined && typeof provider !== 'string') {
    throw new TypeError('refreshProviderTokens: provider must be a string');
  }
  if (typeof errorMarker !== 'string' || errorMarker === '') {
    throw new TypeError('refreshProviderTokens: errorMarker must be a non-empty string');
  }
  const fetcher = fetchOption(options.fetch, 'refreshProviderTokens');
  const now = clockOption(options.now, 'refreshProviderTokens');
  if (token === null || typeof token !== 'object') return token;

  const t = /** @type {Record<string, unknown>} */ (token);
  const expiresAt = t.expires_at;
  if (typeof expiresAt === 'number' && now() / 1000 < expiresAt - skewSeconds) {
    return token;
  }
  const refreshToken = t.refresh_token;
  if (typeof refreshToken !== 'string' || refreshToken === '') {
    return /** @type {T} */ ({ ...t, error: errorMarker, refresh_error: 'invalid_request' });
  }

  let body;
  try {
    body = await sharedRefresh(fetcher, String(url), refreshToken, provider);
  } catch (err) {
    const code = err instanceof SupabridgeError ? err.error : 'server_error';
    return /** @type {T} */ ({ ...t, error: errorMarker, refresh_error: code });
  }

  const supabaseToken = tokenOf(body);
  const providerToken = typeof body.provider_token === 'string' ? body.provider_token : undefined;
  let next = expiryOf(body, supabaseToken, now);
  const providerExp = providerToken === undefined ? undefined : jwtExp(providerToken);
  if (providerExp !== undefined && providerExp < next) next = providerExp;

  /** @type {Record<string, unknown>} */
  const out = { ...t };
  delete out.error;
  delete out.refresh_error;
  if (providerToken !== undefined) out.access_token = providerToken;
  if (typeof body.id_token === 'string') out.id_token = body.id_token;
  if (typeof body.refresh_token === 'string' && body.refresh_token !== '') {
    out.refresh_token = body.refresh_token;
  }
  out.expires_at = next;
  out.supabase_access_token = supabaseToken;
  return /** @type {T} */ (out);
}

// ---- internals ----

/** In-flight refreshes by endpoint, provider and refresh token; entries live only while a request runs. */
const refreshes = new Map();

/**
 * @param {(input: string, init?: RequestInit) => Promise<Response>} fetcher
 * @param {string} endpoint
 * @param {string} refreshToken
 * @param {string | undefined} provider
 * @returns {Promise<Record<string, unknown>>}
 */
function sharedRefresh(fetcher, endpoint, refreshToken, provider) {
  const key = `${endpoint}\n${provider ?? ''}\n${refreshToken}`;
  const running = refreshes.get(key);
  if (running !== undefined) return running;
  /** @type {Record<string, string>} */
  const payload = { refresh_token: refreshToken };
  if (provider !== undefined) payload.provider = provider;
  const promise = call(fetcher, endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(payload),
  });
  refreshes.set(key, promise);
  const clear = () => refreshes.delete(key);
  promise.then(clear, clear);
  return promise;
}

/**
 * @param {(input: string, init?: RequestInit) => Promise<Response>} fetcher
 * @param {string} endpoint
 * @param {string} providerToken
 * @param {() => number} now
 */
async function exchange(fetcher, endpoint, providerToken, now) {
  const body = await call(fetcher, endpoint, {
    method: 'POST',
    headers: { Authorization: `Bearer ${providerToken}`, Accept: 'application/json' },
  });
  const token = tokenOf(body);
  return { token, expiresAt: expiryOf(body, token, now) };
}

/**
 * call POSTs to a supabridge function and returns its JSON body, or throws SupabridgeError.
 *
 * @param {(input: string, init?: RequestInit) => Promise<Response>} fetcher
 * @param {string} endpoint
 * @param {RequestInit} init
 * @returns {Promise<Record<string, unknown>>}
 */
async function call(fetcher, endpoint, init) {
  let res;
  try {
    res = await fetcher(endpoint, init);
  } catch (err) {
    throw new SupabridgeError(
      { error: 'network_error', error_description: 'the request to supabridge failed', status: 0 },
      { cause: err },
    );
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
  if (!res.ok) {
    if (isObject && typeof body.error === 'string') {
      throw new SupabridgeError({
        error: body.error,
        error_description: typeof body.error_description === 'string' ? body.error_description : '',
        status: res.status,
      });
    }
    throw new SupabridgeError({
      error: 'invalid_response',
      error_description: `supabridge answered HTTP ${res.status} without an error code`,
      status: res.status,
    });
  }
  if (!isObject || tokenOf(body) === '') {
    throw new SupabridgeError({
      error: 'invalid_response',
      error_description: 'supabridge answered without a token',
      status: res.status,
    });
  }
  return body;
}

/** @param {Record<string, unknown>} body */
function tokenOf(body) {
  if (typeof body.access_token === 'string' && body.access_token !== '') return body.access_token;
  if (typeof body.supabaseJwt === 'string' && body.supabaseJwt !== '') return body.supabaseJwt;
  return '';
}

/**
 * expiryOf gives the token's expiry in seconds: expires_at, else now + expires_in, else the
 * JWT's own exp (the Deno function answers {supabaseJwt} only), else now (never cached).
 *
 * @param {Record<string, unknown>} body
 * @param {string} token
 * @param {() => number} now
 */
function expiryOf(body, token, now) {
  if (typeof body.expires_at === 'number' && Number.isFinite(body.expires_at)) return body.expires_at;
  if (typeof body.expires_in === 'number' && Number.isFinite(body.expires_in)) {
    return Math.floor(now() / 1000) + body.expires_in;
  }
  return jwtExp(token) ?? Math.floor(now() / 1000);
}

/**
 * jwtExp reads the exp claim of a JWT without verifying it (for scheduling only), or
 * undefined when the token is not a JWT.
 *
 * @param {string} token
 * @returns {number | undefined}
 */
function jwtExp(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
    return typeof json?.exp === 'number' && Number.isFinite(json.exp) ? json.exp : undefined;
  } catch {
    return undefined;
  }
}

/** @param {unknown} url @param {string} fn */
function checkURL(url, fn) {
  if (!(typeof url === 'string' && url !== '') && !(url instanceof URL)) {
    throw new TypeError(`${fn}: url must be the function's URL`);
  }
}

/** @param {unknown} skew @param {string} fn */
function checkSkew(skew, fn) {
  if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0) {
    throw new TypeError(`${fn}: skewSeconds must be a number >= 0`);
  }
}

/**
 * @param {unknown} f
 * @param {string} fn
 * @returns {(input: string, init?: RequestInit) => Promise<Response>}
 */
function fetchOption(f, fn) {
  if (f === undefined) return (input, init) => globalThis.fetch(input, init);
  if (typeof f !== 'function') throw new TypeError(`${fn}: fetch must be a function`);
  return /** @type {any} */ (f);
}

/**
 * @param {unknown} f
 * @param {string} fn
 * @returns {() => number}
 */
function clockOption(f, fn) {
  if (f === undefined) return Date.now;
  if (typeof f !== 'function') throw new TypeError(`${fn}: now must be a function returning milliseconds`);
  return /** @type {() => number} */ (f);
}
