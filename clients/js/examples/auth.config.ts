import type { NextAuthConfig } from 'next-auth';
import type { JWT } from 'next-auth/jwt';
import Authentik from 'next-auth/providers/authentik';
import { refreshProviderTokens } from '@supabridge/client';

// Auth.js v5 (next-auth@5): the provider and callbacks, imported by auth.ts.
export default {
  providers: [
    Authentik({
      clientId: process.env.AUTH_AUTHENTIK_ID,
      clientSecret: process.env.AUTH_AUTHENTIK_SECRET,
      issuer: process.env.AUTH_AUTHENTIK_ISSUER, // https://<host>/application/o/<slug>/
      // offline_access: without it Authentik grants no refresh token.
      authorization: { params: { scope: 'openid email profile offline_access' } },
    }),
  ],
  callbacks: {
    async jwt({ token, account }): Promise<JWT> {
      if (account) {
        // First sign-in: keep the provider's tokens.
        return {
          ...token,
          access_token: account.access_token,
          id_token: account.id_token,
          refresh_token: account.refresh_token,
          expires_at: account.expires_at,
        };
      }
      // Every later call: renew through supabridge's refresh function near expiry. A failure
      // sets token.error = "RefreshTokenError" (errorMarker: REFRESH_ACCESS_TOKEN_ERROR gives
      // the v4 marker instead).
      return refreshProviderTokens(token, {
        url: `${process.env.SUPABASE_URL}/functions/v1/refresh`,
      });
    },
    async session({ session, token }) {
      // The browser gets the provider's access token for supabridgeAccessToken, never the
      // refresh token.
      session.accessToken = token.access_token;
      session.error = token.error; // "RefreshTokenError": send the user to sign in again
      return session;
    },
  },
} satisfies NextAuthConfig;

declare module 'next-auth' {
  interface Session {
    accessToken?: string;
    error?: 'RefreshTokenError';
  }
}

declare module 'next-auth/jwt' {
  interface JWT {
    access_token?: string;
    id_token?: string;
    refresh_token?: string;
    expires_at?: number;
    supabase_access_token?: string;
    error?: 'RefreshTokenError';
    refresh_error?: string;
  }
}
