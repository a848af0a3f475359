// Compile-time checks of index.d.ts against supabase-js's own types (run by types.test.js).

import { createClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import {
  REFRESH_ACCESS_TOKEN_ERROR,
  REFRESH_TOKEN_ERROR,
  SupabridgeError,
  refreshProviderTokens,
  supabridgeAccessToken,
} from '@supabridge/client';

const accessToken = supabridgeAccessToken({
  url: 'https://project.example/functions/v1/exchange',
  getProviderToken: async () => null,
  skewSeconds: 30,
  now: Date.now,
  fetch: (input, init) => fetch(input, init),
});

// What we return is exactly what supabase-js's accessToken option takes.
const option: NonNullable<SupabaseClientOptions<'public'>['accessToken']> = accessToken;
createClient('https://project.example', 'anon', { accessToken: option });

supabridgeAccessToken({ url: new URL('https://x.example'), getProviderToken: () => 'token' });
supabridgeAccessToken({ url: 'https://x.example', getProviderToken: () => undefined });

// @ts-expect-error url is required
supabridgeAccessToken({ getProviderToken: () => null });
// @ts-expect-error getProviderToken must return a string or nothing
supabridgeAccessToken({ url: 'https://x.example', getProviderToken: () => 42 });
// @ts-expect-error now returns a number of milliseconds
supabridgeAccessToken({ url: 'https://x.example', getProviderToken: () => null, now: () => new Date() });

async function nextAuthJwt(token: { sub?: string; name?: string | null; [key: string]: unknown }) {
  const next = await refreshProviderTokens(token, { url: 'https://x.example/functions/v1/refresh', provider: 'authentik' });
  const name: string | null | undefined = next.name;
  const marker: 'RefreshTokenError' | undefined = next.error;
  const v4 = await refreshProviderTokens(token, { url: 'https://x.example', errorMarker: REFRESH_ACCESS_TOKEN_ERROR });
  const v4marker: 'RefreshAccessTokenError' | undefined = v4.error;
  // @ts-expect-error the default marker is v5's, not v4's
  const wrong: 'RefreshAccessTokenError' | undefined = next.error;
  void v4marker;
  void wrong;
  const supabaseJwt: string | undefined = next.supabase_access_token;
  const expiresAt: number | undefined = next.expires_at;
  return { name, marker, supabaseJwt, expiresAt };
}
void nextAuthJwt;

function onError(err: unknown): string | undefined {
  if (err instanceof SupabridgeError) {
    const status: number = err.status;
    const code: string = err.error;
    return `${status} ${code} ${err.error_description}`;
  }
  return undefined;
}
void onError;

const marker: 'RefreshAccessTokenError' = REFRESH_ACCESS_TOKEN_ERROR;
const v5: 'RefreshTokenError' = REFRESH_TOKEN_ERROR;
void marker;
void v5;
