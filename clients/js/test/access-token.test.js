// Unit tests of supabridgeAccessToken with an injected fetch and clock.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { supabridgeAccessToken, SupabridgeError } from '../index.js';
import { stubFetch, json, exchangeBody, fakeJWT, clock, deferred, spyConsole } from './helpers.js';

const URL_ = 'https://project.example/functions/v1/exchange';
const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

/** setup builds an accessToken function whose exchange answers jwt-<n> valid for ttl seconds. */
function setup({ ttl = 3600, skewSeconds, ...rest } = {}) {
  const now = clock(T0);
  const state = { provider: 'provider' in rest ? rest.provider : 'provider-1' };
  const fetch = stubFetch(({ n }) => json(200, exchangeBody(`jwt-${n}`, now() / 1000 + ttl, now() / 1000)));
  const accessToken = supabridgeAccessToken({
    url: URL_,
    getProviderToken: async () => state.provider,
    fetch,
    now,
    ...(skewSeconds === undefined ? {} : { skewSeconds }),
  });
  return { accessToken, fetch, now, state };
}

describe('supabridgeAccessToken', () => {
  it('POSTs the provider token as a bearer token to url and returns the Supabase JWT', async (t) => {
    const quiet = spyConsole(t);
    const { accessToken, fetch } = setup();
    assert.equal(await accessToken(), 'jwt-1');
    assert.equal(fetch.calls.length, 1);
    const { url, init } = fetch.calls[0];
    assert.equal(url, URL_);
    assert.equal(init.method, 'POST');
    assert.equal(new Headers(init.headers).get('authorization'), 'Bearer provider-1');
    assert.equal(init.body, undefined);
    quiet();
  });

  it('caches the token until expires_at - skewSeconds, then exchanges again', async (t) => {
    const cases = [
      { name: 'default skew 60', skew: undefined, lastCached: 3600 - 60 - 1, firstRenewed: 3600 - 60 },
      { name: 'skew 0', skew: 0, lastCached: 3599, firstRenewed: 3600 },
      { name: 'skew 300', skew: 300, lastCached: 3600 - 300 - 1, firstRenewed: 3600 - 300 },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const { accessToken, fetch, now } = setup({ skewSeconds: c.skew });
        assert.equal(await accessToken(), 'jwt-1');
        now.set(T0 + c.lastCached);
        assert.equal(await accessToken(), 'jwt-1');
        assert.equal(fetch.calls.length, 1, 'exchanges before expires_at - skew');
        now.set(T0 + c.firstRenewed);
        assert.equal(await accessToken(), 'jwt-2');
        assert.equal(fetch.calls.length, 2, 'exchanges at expires_at - skew');
        quiet();
      });
    }
  });

  it('accepts a clock in milliseconds (Date.now by default)', async (t) => {
    const quiet = spyConsole(t);
    const realNow = Math.floor(Date.now() / 1000);
    const fetch = stubFetch(({ n }) => json(200, exchangeBody(`jwt-${n}`, realNow + 3600, realNow)));
    const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => 'p', fetch });
    assert.equal(await accessToken(), 'jwt-1');
    assert.equal(await accessToken(), 'jwt-1');
    assert.equal(fetch.calls.length, 1);
    quiet();
  });

  it('exchanges again when the provider token changes, and never returns the old token', async (t) => {
    const quiet = spyConsole(t);
    const { accessToken, fetch, state } = setup();
    assert.equal(await accessToken(), 'jwt-1');
    state.provider = 'provider-2';
    assert.equal(await accessToken(), 'jwt-2');
    assert.equal(fetch.calls.length, 2);
    assert.equal(new Headers(fetch.calls[1].init.headers).get('authorization'), 'Bearer provider-2');
    assert.equal(await accessToken(), 'jwt-2');
    assert.equal(fetch.calls.length, 2);
    quiet();
  });

  it('merges concurrent calls into one exchange', async (t) => {
    const quiet = spyConsole(t);
    const gate = deferred();
    const fetch = stubFetch(async () => {
      await gate.promise;
      return json(200, exchangeBody('jwt-once', T0 + 3600, T0));
    });
    const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: async () => 'p', fetch, now: clock(T0) });
    const all = Promise.all(Array.from({ length: 20 }, () => accessToken()));
    await new Promise((r) => setImmediate(r));
    assert.equal(fetch.calls.length, 1, 'one exchange in flight');
    gate.resolve();
    assert.deepEqual(await all, Array(20).fill('jwt-once'));
    assert.equal(await accessToken(), 'jwt-once');
    assert.equal(fetch.calls.length, 1);
    quiet();
  });

  it('keeps the newer token when an exchange for an older provider token finishes last', async (t) => {
    const quiet = spyConsole(t);
    const gates = [deferred(), deferred()];
    const now = clock(T0);
    const fetch = stubFetch(async ({ n }) => {
      await gates[n - 1].promise;
      return json(200, exchangeBody(`jwt-${n}`, T0 + 3600, T0));
    });
    const state = { provider: 'old' };
    const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => state.provider, fetch, now });
    const first = accessToken();
    await new Promise((r) => setImmediate(r));
    state.provider = 'new';
    const second = accessToken();
    await new Promise((r) => setImmediate(r));
    assert.equal(fetch.calls.length, 2);
    gates[1].resolve();
    assert.equal(await second, 'jwt-2');
    gates[0].resolve();
    assert.equal(await first, 'jwt-1');
    assert.equal(await accessToken(), 'jwt-2', 'the newer provider token keeps its cache');
    assert.equal(fetch.calls.length, 2);
    quiet();
  });

  it('returns null without calling fetch when there is no provider token', async (t) => {
    for (const value of [null, undefined, '']) {
      await t.test(String(JSON.stringify(value)), async (t) => {
        const quiet = spyConsole(t);
        const { accessToken, fetch } = setup({ provider: value });
        assert.equal(await accessToken(), null);
        assert.equal(fetch.calls.length, 0);
        quiet();
      });
    }
  });

  it('forgets the cached token on sign-out', async (t) => {
    const quiet = spyConsole(t);
    const { accessToken, fetch, state } = setup();
    assert.equal(await accessToken(), 'jwt-1');
    state.provider = null;
    assert.equal(await accessToken(), null);
    state.provider = 'provider-1';
    assert.equal(await accessToken(), 'jwt-2');
    assert.equal(fetch.calls.length, 2);
    quiet();
  });

  it('turns failures into a typed SupabridgeError', async (t) => {
    const networkFailure = new TypeError('fetch failed');
    const cases = [
      {
        name: '401 contract error',
        respond: () =>
          new Response(JSON.stringify({ error: 'invalid_token', error_description: 'the token has expired' }), {
            status: 401,
            headers: { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer error="invalid_token"' },
          }),
        want: { error: 'invalid_token', error_description: 'the token has expired', status: 401, retryable: false, code: 'ABORT_ERR' },
      },
      {
        name: '502 contract error',
        respond: () => json(502, { error: 'temporarily_unavailable', error_description: 'the provider did not answer' }),
        want: { error: 'temporarily_unavailable', error_description: 'the provider did not answer', status: 502, retryable: true, code: undefined },
      },
      {
        name: 'error without a description',
        respond: () => json(400, { error: 'invalid_request' }),
        want: { error: 'invalid_request', error_description: '', status: 400, retryable: false, code: 'ABORT_ERR' },
      },
      {
        name: 'non-JSON 502 from a proxy',
        respond: () => new Response('<html>Bad Gateway</html>', { status: 502 }),
        want: { error: 'invalid_response', status: 502, retryable: true, code: undefined },
      },
      {
        name: '200 without a token',
        respond: () => json(200, { token_type: 'bearer' }),
        want: { error: 'invalid_response', status: 200, retryable: true },
      },
      {
        name: 'network failure',
        respond: () => {
          throw networkFailure;
        },
        want: { error: 'network_error', status: 0, retryable: true, code: undefined },
        cause: networkFailure,
      },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const fetch = stubFetch(c.respond);
        const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => 'secret-provider-token', fetch });
        const err = await accessToken().then(
          () => assert.fail('resolved; want a rejection'),
          (e) => e,
        );
        assert.ok(err instanceof SupabridgeError, `got ${err?.constructor?.name}; want SupabridgeError`);
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'SupabridgeError');
        for (const [k, v] of Object.entries(c.want)) assert.equal(err[k], v, k);
        if (c.cause) assert.equal(err.cause, c.cause);
        assert.ok(!err.message.includes('secret-provider-token'), 'message echoes the provider token');
        assert.ok(!String(err.stack).includes('secret-provider-token'), 'stack echoes the provider token');
        quiet();
      });
    }
  });

  it('rejects every concurrent caller with the one error, and retries on the next call', async (t) => {
    const quiet = spyConsole(t);
    let fail = true;
    const fetch = stubFetch(() =>
      fail ? json(401, { error: 'invalid_token', error_description: 'bad' }) : json(200, exchangeBody('jwt-ok', T0 + 3600, T0)),
    );
    const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => 'p', fetch, now: clock(T0) });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => accessToken()));
    assert.equal(fetch.calls.length, 1);
    const reasons = new Set(results.map((r) => (r.status === 'rejected' ? r.reason : 'fulfilled')));
    assert.equal(reasons.size, 1);
    assert.ok([...reasons][0] instanceof SupabridgeError);
    fail = false;
    assert.equal(await accessToken(), 'jwt-ok', 'a failure is not cached');
    assert.equal(fetch.calls.length, 2);
    quiet();
  });

  it('never returns the stale token once renewal fails', async (t) => {
    const quiet = spyConsole(t);
    const now = clock(T0);
    let status = 200;
    const fetch = stubFetch(({ n }) =>
      status === 200 ? json(200, exchangeBody(`jwt-${n}`, now() / 1000 + 3600, now() / 1000)) : json(status, { error: 'invalid_token' }),
    );
    const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => 'p', fetch, now });
    assert.equal(await accessToken(), 'jwt-1');
    now.set(T0 + 3600 - 30);
    status = 401;
    await assert.rejects(accessToken(), SupabridgeError);
    now.set(T0 + 3600 - 100); // even back inside the window: the cache was dropped
    await assert.rejects(accessToken(), SupabridgeError);
    assert.equal(fetch.calls.length, 3);
    quiet();
  });

  it('finds the expiry in expires_at, expires_in or the JWT exp (the Deno function answers {supabaseJwt} only)', async (t) => {
    const denoJwt = fakeJWT({ sub: 'u', exp: T0 + 600 });
    const cases = [
      { name: 'expires_at', body: { access_token: 'a', expires_at: T0 + 600, expires_in: 9999 } },
      { name: 'expires_in', body: { access_token: 'a', expires_in: 600 } },
      { name: 'supabaseJwt with exp', body: { supabaseJwt: denoJwt } },
    ];
    for (const c of cases) {
      await t.test(c.name, async (t) => {
        const quiet = spyConsole(t);
        const now = clock(T0);
        const fetch = stubFetch(() => json(200, c.body));
        const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => 'p', fetch, now, skewSeconds: 0 });
        const first = await accessToken();
        now.set(T0 + 599);
        assert.equal(await accessToken(), first);
        assert.equal(fetch.calls.length, 1, 'cached before expiry');
        now.set(T0 + 600);
        await accessToken();
        assert.equal(fetch.calls.length, 2, 'renewed at expiry');
        quiet();
      });
    }
    await t.test('no expiry at all: not cached', async (t) => {
      const quiet = spyConsole(t);
      const fetch = stubFetch(() => json(200, { supabaseJwt: 'opaque' }));
      const accessToken = supabridgeAccessToken({ url: URL_, getProviderToken: () => 'p', fetch, now: clock(T0) });
      assert.equal(await accessToken(), 'opaque');
      assert.equal(await accessToken(), 'opaque');
      assert.equal(fetch.calls.length, 2);
      quiet();
    });
  });

  it('uses the global fetch when none is given, looked up at call time', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => json(200, exchangeBody('jwt-global', T0 + 3600, T0)));
    t.mock.method(globalThis, 'fetch', fetch);
    const accessToken = supabridgeAccessToken({ url: new URL(URL_), getProviderToken: () => 'p', now: clock(T0) });
    assert.equal(await accessToken(), 'jwt-global');
    assert.equal(fetch.calls[0].url, URL_);
    quiet();
  });

  it('refuses bad options at construction', () => {
    const ok = { url: URL_, getProviderToken: () => null };
    const cases = [
      { name: 'no options', options: undefined },
      { name: 'no url', options: { ...ok, url: undefined } },
      { name: 'empty url', options: { ...ok, url: '' } },
      { name: 'no getProviderToken', options: { ...ok, getProviderToken: 'x' } },
      { name: 'negative skew', options: { ...ok, skewSeconds: -1 } },
      { name: 'NaN skew', options: { ...ok, skewSeconds: NaN } },
      { name: 'string skew', options: { ...ok, skewSeconds: '60' } },
      { name: 'fetch not a function', options: { ...ok, fetch: {} } },
      { name: 'now not a function', options: { ...ok, now: 5 } },
    ];
    for (const c of cases) {
      assert.throws(() => supabridgeAccessToken(c.options), TypeError, c.name);
    }
    assert.equal(typeof supabridgeAccessToken(ok), 'function');
  });
});
