// Unit tests of refreshProviderTokens with an injected fetch and clock.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { refreshProviderTokens, REFRESH_ACCESS_TOKEN_ERROR, REFRESH_TOKEN_ERROR } from '../index.js';
import { stubFetch, json, exchangeBody, fakeJWT, clock, deferred, spyConsole } from './helpers.js';

const URL_ = 'https://project.example/functions/v1/refresh';
const T0 = 1_767_225_600;

/** nextAuthToken is a NextAuth JWT as the sign-in branch of the jwt callback leaves it. */
function nextAuthToken(overrides = {}) {
  return {
    name: 'Ada',
    email: 'ada@example.com',
    sub: 'user-1',
    access_token: 'provider-access-1',
    id_token: 'provider-id-1',
    refresh_token: 'refresh-1',
    expires_at: T0 + 30, // inside the default 60 s skew
    ...overrides,
  };
}

/** refreshBody is the contract's refresh success JSON. */
function refreshBody(overrides = {}) {
  return {
    ...exchangeBody('supabase-jwt-2', T0 + 3600, T0),
    refresh_token: 'refresh-2',
    provider_token: 'provider-access-2',
    id_token: 'provider-id-2',
    ...overrides,
  };
}

describe('refreshProviderTokens', () => {
  it('returns the token unchanged, without a request, while expires_at - skew is ahead', async (t) => {
    const cases = [
      { name: 'default skew', token: nextAuthToken({ expires_at: T0 + 61 }), opts: {} },
      { name: 'skew 0', token: nextAuthToken({ expires_at: T0 + 1 }), opts: { skewSeconds: 0 } },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const fetch = stubFetch(() => assert.fail('fetch called'));
        const got = await refreshProviderTokens(c.token, { url: URL_, fetch, now: clock(T0), ...c.opts });
        assert.equal(got, c.token);
        assert.equal(fetch.calls.length, 0);
        quiet();
      });
    }
  });

  it('refreshes near expiry and returns the updated token with the Supabase token attached', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => json(200, refreshBody()));
    const token = nextAuthToken({ error: REFRESH_ACCESS_TOKEN_ERROR, refresh_error: 'temporarily_unavailable' });
    const before = structuredClone(token);
    const got = await refreshProviderTokens(token, { url: URL_, fetch, now: clock(T0) });

    assert.equal(fetch.calls.length, 1);
    const { url, init } = fetch.calls[0];
    assert.equal(url, URL_);
    assert.equal(init.method, 'POST');
    assert.equal(new Headers(init.headers).get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(init.body), { refresh_token: 'refresh-1' });

    assert.deepEqual(got, {
      name: 'Ada',
      email: 'ada@example.com',
      sub: 'user-1',
      access_token: 'provider-access-2',
      id_token: 'provider-id-2',
      refresh_token: 'refresh-2',
      expires_at: T0 + 3600,
      supabase_access_token: 'supabase-jwt-2',
    });
    assert.deepEqual(token, before, 'the input token is not mutated');
    quiet();
  });

  it('keeps the refresh token the provider returns, or the old one when it returns none', async (t) => {
    const cases = [
      { name: 'rotated', body: refreshBody({ refresh_token: 'rotated' }), want: 'rotated' },
      { name: 'not returned', body: refreshBody({ refresh_token: undefined }), want: 'refresh-1' },
      { name: 'empty', body: refreshBody({ refresh_token: '' }), want: 'refresh-1' },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const fetch = stubFetch(() => json(200, c.body));
        const got = await refreshProviderTokens(nextAuthToken(), { url: URL_, fetch, now: clock(T0) });
        assert.equal(got.refresh_token, c.want);
        assert.equal(got.error, undefined);
        quiet();
      });
    }
  });

  it('keeps the old id_token and access_token when the refresh answer lacks them', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => json(200, refreshBody({ id_token: undefined, provider_token: undefined })));
    const got = await refreshProviderTokens(nextAuthToken(), { url: URL_, fetch, now: clock(T0) });
    assert.equal(got.id_token, 'provider-id-1');
    assert.equal(got.access_token, 'provider-access-1');
    assert.equal(got.supabase_access_token, 'supabase-jwt-2');
    quiet();
  });

  it('sets expires_at to the earlier of the Supabase token and a JWT provider token', async (t) => {
    const cases = [
      { name: 'provider token expires first', provider: fakeJWT({ exp: T0 + 300 }), want: T0 + 300 },
      { name: 'Supabase token expires first', provider: fakeJWT({ exp: T0 + 7200 }), want: T0 + 3600 },
      { name: 'opaque provider token', provider: 'opaque', want: T0 + 3600 },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const fetch = stubFetch(() => json(200, refreshBody({ provider_token: c.provider })));
        const got = await refreshProviderTokens(nextAuthToken(), { url: URL_, fetch, now: clock(T0) });
        assert.equal(got.expires_at, c.want);
        quiet();
      });
    }
  });

  it('marks the token with errorMarker: RefreshTokenError by default, the v4 marker when asked', async (t) => {
    const fetch = stubFetch(() => json(400, { error: 'invalid_grant' }));
    const cases = [
      { name: 'default', opts: {}, want: 'RefreshTokenError' },
      { name: 'v4 marker', opts: { errorMarker: REFRESH_ACCESS_TOKEN_ERROR }, want: 'RefreshAccessTokenError' },
      { name: 'own marker', opts: { errorMarker: 'SignInAgain' }, want: 'SignInAgain' },
    ];
    for (const c of cases) {
      const got = await refreshProviderTokens(nextAuthToken(), { url: URL_, fetch, now: clock(T0), ...c.opts });
      assert.equal(got.error, c.want, c.name);
      const none = await refreshProviderTokens(nextAuthToken({ refresh_token: undefined }), { url: URL_, fetch, now: clock(T0), ...c.opts });
      assert.equal(none.error, c.want, `${c.name}, no refresh token`);
    }
    assert.equal(REFRESH_TOKEN_ERROR, 'RefreshTokenError');
    assert.equal(REFRESH_ACCESS_TOKEN_ERROR, 'RefreshAccessTokenError');
    await assert.rejects(refreshProviderTokens(nextAuthToken(), { url: URL_, fetch, errorMarker: '' }), TypeError);
  });

  it('marks the token with the error marker when refresh fails', async (t) => {
    const cases = [
      {
        name: 'provider refused the refresh token',
        respond: () => json(400, { error: 'invalid_grant', error_description: 'the provider refused the refresh token' }),
        code: 'invalid_grant',
      },
      {
        name: 'provider down',
        respond: () => json(502, { error: 'temporarily_unavailable', error_description: 'x' }),
        code: 'temporarily_unavailable',
      },
      { name: 'non-JSON answer', respond: () => new Response('oops', { status: 500 }), code: 'invalid_response' },
      {
        name: 'network failure',
        respond: () => {
          throw new TypeError('fetch failed');
        },
        code: 'network_error',
      },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const fetch = stubFetch(c.respond);
        const token = nextAuthToken();
        const got = await refreshProviderTokens(token, { url: URL_, fetch, now: clock(T0) });
        assert.deepEqual(got, { ...token, error: REFRESH_TOKEN_ERROR, refresh_error: c.code });
        assert.equal(fetch.calls.length, 1);
        quiet();
      });
    }
  });

  it('marks the token without a request when there is no refresh token', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => assert.fail('fetch called'));
    const got = await refreshProviderTokens(nextAuthToken({ refresh_token: undefined }), { url: URL_, fetch, now: clock(T0) });
    assert.equal(got.error, REFRESH_TOKEN_ERROR);
    assert.equal(fetch.calls.length, 0);
    quiet();
  });

  it('refreshes when expires_at is missing', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => json(200, refreshBody()));
    const got = await refreshProviderTokens(nextAuthToken({ expires_at: undefined }), { url: URL_, fetch, now: clock(T0) });
    assert.equal(fetch.calls.length, 1);
    assert.equal(got.expires_at, T0 + 3600);
    quiet();
  });

  it('names the provider when given', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => json(200, refreshBody()));
    await refreshProviderTokens(nextAuthToken(), { url: URL_, fetch, now: clock(T0), provider: 'authentik' });
    assert.deepEqual(JSON.parse(fetch.calls[0].init.body), { refresh_token: 'refresh-1', provider: 'authentik' });
    quiet();
  });

  it('sends one request for concurrent refreshes of one refresh token', async (t) => {
    const quiet = spyConsole(t);
    const gate = deferred();
    const fetch = stubFetch(async () => {
      await gate.promise;
      return json(200, refreshBody());
    });
    const opts = { url: URL_, fetch, now: clock(T0) };
    const all = Promise.all([
      refreshProviderTokens(nextAuthToken(), opts),
      refreshProviderTokens(nextAuthToken(), opts),
      refreshProviderTokens(nextAuthToken({ refresh_token: 'other' }), opts),
    ]);
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    const got = await all;
    assert.equal(fetch.calls.length, 2, 'one request per distinct refresh token');
    for (const g of got) assert.equal(g.refresh_token, 'refresh-2');
    // Once settled, the same refresh token is sent again (no cache of answers).
    await refreshProviderTokens(nextAuthToken(), opts);
    assert.equal(fetch.calls.length, 3);
    quiet();
  });

  it('refuses bad options and passes a missing token through', async () => {
    await assert.rejects(refreshProviderTokens(nextAuthToken(), undefined), TypeError);
    await assert.rejects(refreshProviderTokens(nextAuthToken(), { url: '' }), TypeError);
    await assert.rejects(refreshProviderTokens(nextAuthToken(), { url: URL_, skewSeconds: -5 }), TypeError);
    await assert.rejects(refreshProviderTokens(nextAuthToken(), { url: URL_, provider: 7 }), TypeError);
    assert.equal(await refreshProviderTokens(null, { url: URL_ }), null);
  });
});
