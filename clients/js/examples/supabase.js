import { createClient } from '@supabase/supabase-js';
import { supabridgeAccessToken } from '@supabridge/client';

// getProviderToken returns the user's current token from your OIDC provider (with NextAuth,
// session.accessToken from the session callback), or null when signed out. It runs before
// every request: read it from memory, don't fetch it.
export function createSupabaseClient({ supabaseUrl, supabaseAnonKey, getProviderToken, ...tokenOptions }) {
  return createClient(supabaseUrl, supabaseAnonKey, {
    accessToken: supabridgeAccessToken({
      url: `${supabaseUrl}/functions/v1/exchange`,
      getProviderToken,
      ...tokenOptions, // optional: fetch, skewSeconds, now
    }),
  });
}
