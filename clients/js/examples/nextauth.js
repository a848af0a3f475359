import { REFRESH_ACCESS_TOKEN_ERROR, refreshProviderTokens } from '@supabridge/client';

// NextAuth v4 callbacks: pass as `callbacks` in your NextAuth options (Auth.js v5: auth.config.ts).
export const callbacks = {
  async jwt({ token, account }) {
    if (account) {
      // First sign-in: keep the provider's tokens (request the offline_access scope).
      return {
        ...token,
        access_token: account.access_token,
        id_token: account.id_token,
        refresh_token: account.refresh_token,
        expires_at: account.expires_at,
      };
    }
    // Every later call: renew through supabridge's refresh function near expiry.
    return refreshProviderTokens(token, {
      url: `${process.env.SUPABASE_URL}/functions/v1/refresh`,
      errorMarker: REFRESH_ACCESS_TOKEN_ERROR, // the v4 guides' marker, which your app checks
    });
  },
  async session({ session, token }) {
    // The browser gets the provider's access token for supabridgeAccessToken, never the
    // refresh token.
    session.accessToken = token.access_token;
    session.error = token.error; // "RefreshAccessTokenError": send the user to sign in again
    return session;
  },
};
