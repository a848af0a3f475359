// examples/nextauth.js (refreshProviderTokens) against the real refresh function of
// `supabridge serve`, backed by a real Dex from internal/testenv/dex (cmd/dexrun):
// rotating refresh tokens, refused at once when reused.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { callbacks } from '../examples/nextauth.js';
import { REFRESH_ACCESS_TOKEN_ERROR } from '../index.js';
import { buildSupabridge, decodeJWT, dexMissing as missing, newSecret, passwordGrant, startDex, startSupabridge, verifyHS256 } from './harness.js';

const why = missing();

describe('refreshProviderTokens against the real refresh function and Dex', { skip: why || false, timeout: 900_000 }, () => {
  const secret = newSecret();
  let dir = '';
  let build;
  let dex;
  let server;
  let savedURL;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'supabridge-js-dex-'));
    [build, dex] = await Promise.all([buildSupabridge(), startDex(dir)]);
    server = await startSupabridge(build.bin, {
      SUPABASE_JWT_SECRET: secret,
      AUTH_ISSUER: dex.issuer,
      AUTH_AUDIENCE: dex.clientID,
      AUTH_CLIENT_ID: dex.clientID,
      AUTH_CLIENT_SECRET: dex.clientSecret,
    });
    savedURL = process.env.SUPABASE_URL;
    process.env.SUPABASE_URL = server.base; // what examples/nextauth.js reads
  });

  after(async () => {
    if (savedURL === undefined) delete process.env.SUPABASE_URL;
    else process.env.SUPABASE_URL = savedURL;
    await server?.stop();
    await dex?.stop();
    if (build) await rm(build.dir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** signIn runs the jwt callback's sign-in branch with a fresh Dex login. */
  async function signIn() {
    const login = await passwordGrant(dex);
    const claims = decodeJWT(login.id_token);
    const token = await callbacks.jwt({
      token: { sub: claims.sub, email: claims.email, name: claims.name },
      account: {
        provider: 'dex',
        access_token: login.access_token,
        id_token: login.id_token,
        refresh_token: login.refresh_token,
        expires_at: Math.floor(Date.now() / 1000) + login.expires_in,
      },
    });
    return { token, claims };
  }

  /** nearExpiry is the token as the jwt callback sees it shortly before expires_at. */
  const nearExpiry = (token) => ({ ...token, expires_at: Math.floor(Date.now() / 1000) + 30 });

  it('near expiry: new provider tokens, a rotated refresh token and a Supabase token', async () => {
    const { token, claims } = await signIn();
    const untouched = await callbacks.jwt({ token });
    assert.equal(untouched, token, 'far from expiry: no refresh');

    const next = await callbacks.jwt({ token: nearExpiry(token) });
    assert.equal(next.error, undefined, `refresh failed: ${next.refresh_error}`);
    assert.notEqual(next.refresh_token, token.refresh_token, 'Dex rotates: the refresh token must change');
    assert.equal(typeof next.refresh_token, 'string');
    assert.notEqual(next.access_token, token.access_token);
    assert.notEqual(next.id_token, token.id_token);
    assert.equal(decodeJWT(next.id_token).sub, claims.sub);
    assert.equal(next.email, token.email, 'other NextAuth fields are kept');

    const { header, payload } = verifyHS256(next.supabase_access_token, secret);
    assert.equal(header.kid, undefined);
    assert.equal(payload.sub, claims.sub);
    assert.equal(payload.role, 'authenticated');
    assert.equal(payload.aud, 'authenticated');
    assert.equal(payload.user_metadata?.iss, dex.issuer);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(next.expires_at > now + 60 && next.expires_at <= payload.exp, `expires_at ${next.expires_at}, exp ${payload.exp}`);

    // The rotated refresh token works in turn.
    const third = await callbacks.jwt({ token: nearExpiry(next) });
    assert.equal(third.error, undefined, `second refresh failed: ${third.refresh_error}`);
    assert.notEqual(third.refresh_token, next.refresh_token);
  });

  it('a reused refresh token gives RefreshAccessTokenError', async () => {
    const { token } = await signIn();
    const next = await callbacks.jwt({ token: nearExpiry(token) });
    assert.equal(next.error, undefined, `refresh failed: ${next.refresh_error}`);

    const reused = await callbacks.jwt({ token: nearExpiry(token) });
    assert.equal(reused.error, REFRESH_ACCESS_TOKEN_ERROR);
    assert.equal(reused.refresh_error, 'invalid_grant', 'the contract: the provider refused the refresh token');
    assert.equal(reused.refresh_token, token.refresh_token, 'the failed token keeps what it had');
    assert.equal(reused.supabase_access_token, undefined);

    const session = await callbacks.session({ session: {}, token: reused });
    assert.equal(session.error, 'RefreshAccessTokenError');
  });

  it('parallel jwt callbacks of one session refresh once, so rotation does not fail the second', async () => {
    const { token } = await signIn();
    const due = nearExpiry(token);
    const results = await Promise.all([callbacks.jwt({ token: due }), callbacks.jwt({ token: { ...due } })]);
    for (const r of results) assert.equal(r.error, undefined, `refresh failed: ${r.refresh_error}`);
    assert.equal(results[0].refresh_token, results[1].refresh_token);
  });
});

