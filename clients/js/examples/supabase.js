import { createClient } from '@supabase/supabase-js';
import { supabridgeAccessToken } from '@supabridge/client';

// supabaseKey is your project's publishable key (sb_publishable_...) or its legacy anon key.
// getProviderToken returns the user's current token from your OIDC provider (with Auth.js,
// session.accessToken from the session callback), or null when signed out. It runs before
// every request: read it from memory, don't fetch it.
export function createSupabaseClient({ supabaseUrl, supabaseKey, getProviderToken, clientOptions, ...tokenOptions }) {
  return createClient(supabaseUrl, supabaseKey, {
    ...clientOptions, // on Node 20: { realtime: { transport: WebSocket } } with WebSocket from 'ws'
    accessToken: supabridgeAccessToken({
      url: `${supabaseUrl}/functions/v1/exchange`,
      getProviderToken,
      ...tokenOptions, // optional: fetch, skewSeconds, now
    }),
  });
}
