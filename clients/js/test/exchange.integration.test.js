// The real exchange function (`supabridge serve` with its development issuer) and the real
// @supabase/supabase-js, wired through the README snippet (examples/supabase.js).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';

import { SupabridgeError } from '../index.js';
import { createSupabaseClient } from '../examples/supabase.js';
import {
  bearer,
  buildSupabridge,
  countingFetch,
  decodeJWT,
  mintProviderToken,
  newSecret,
  startGateway,
  signHS256,
  startSupabridge,
  verifyHS256,
  clientOptionsForThisNode,
} from './harness.js';

// The new API key format; the legacy anon key (a JWT signed with the secret) is made in before().
const PUBLISHABLE_KEY = 'sb_publishable_Zm9yLXRlc3RzLW9ubHk_4yQ2kLm8';
const ROWS = [{ id: 1, title: 'first' }];

describe('against the real exchange function and supabase-js', { timeout: 300_000 }, () => {
  let secret = '';
  /** @type {Awaited<ReturnType<typeof buildSupabridge>>} */
  let build;
  /** @type {Awaited<ReturnType<typeof startSupabridge>>} */
  let server;
  /** @type {Awaited<ReturnType<typeof startGateway>>} */
  let gateway;
  let tokenA = '';
  let tokenB = '';
  let legacyAnonKey = '';
  let clientOptions = {};

  before(async () => {
    build = await buildSupabridge();
    // As make run: the development issuer, and the throwaway secret serve prints.
    server = await startSupabridge(build.bin, {}, { devIssuer: true });
    secret = (await server.waitLine(/^supabridge: dev secret ([0-9a-f]{64})$/))[1];
    gateway = await startGateway(server.base, ROWS);
    tokenA = await mintProviderToken(server.base, { sub: 'user-a', email: 'a@example.com' });
    tokenB = await mintProviderToken(server.base, { sub: 'user-b', email: 'b@example.com' });
    legacyAnonKey = signHS256({ iss: 'supabase', role: 'anon', iat: 1_700_000_000, exp: 2_000_000_000 }, secret);
    clientOptions = await clientOptionsForThisNode();
  });

  after(async () => {
    await gateway?.close();
    await server?.stop();
    if (build) await rm(build.dir, { recursive: true, force: true });
  });

  /** client builds the README's client against the gateway, counting exchanges in its fetch. */
  function client(getProviderToken, options = {}) {
    gateway.reset();
    const fetch = countingFetch('/functions/v1/exchange');
    const supabase = createSupabaseClient({
      supabaseUrl: gateway.url,
      supabaseKey: PUBLISHABLE_KEY,
      getProviderToken,
      clientOptions,
      fetch,
      ...options,
    });
    return { supabase, fetch };
  }

  it('sends a token PostgREST accepts: HS256 with the secret, no kid, the contract claims', async () => {
    const { supabase, fetch } = client(() => tokenA);
    const before = Math.floor(Date.now() / 1000);
    const { data, error } = await supabase.from('items').select();
    assert.equal(error, null);
    assert.deepEqual(data, ROWS);
    assert.equal(fetch.count, 1);

    assert.equal(gateway.rest.length, 1);
    const req = gateway.rest[0];
    assert.equal(req.method, 'GET');
    assert.equal(req.url, '/rest/v1/items?select=*');
    assert.equal(req.headers.apikey, PUBLISHABLE_KEY);
    const jwt = bearer(req.headers.authorization);

    const { header, payload } = verifyHS256(jwt, secret);
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' }, 'header (no kid)');
    assert.throws(() => verifyHS256(jwt, newSecret()), /does not verify/);

    const provider = decodeJWT(tokenA);
    assert.equal(payload.role, 'authenticated');
    assert.equal(payload.aud, 'authenticated', 'aud is a string');
    assert.equal(payload.iss, 'supabase');
    assert.equal(payload.sub, 'user-a');
    assert.equal(payload.email, 'a@example.com');
    assert.equal(payload.is_anonymous, false);
    assert.equal(payload.user_metadata?.iss, provider.iss);
    assert.equal(payload.user_metadata?.sub, 'user-a');
    assert.equal('session_id' in payload, false);
    assert.ok(payload.iat >= before - 5 && payload.iat <= Math.ceil(Date.now() / 1000), `iat ${payload.iat}`);
    assert.ok(payload.exp > payload.iat, 'exp after iat');
    assert.ok(payload.exp <= provider.exp, `exp ${payload.exp} after the provider token's ${provider.exp}`);
    assert.ok(payload.exp <= payload.iat + 3600, `exp ${payload.exp} beyond iat + 3600`);
  });

  it('either API key goes as apikey, the minted JWT as Authorization; signed out, the key alone', async (t) => {
    const keys = [
      { name: 'publishable key', key: PUBLISHABLE_KEY },
      { name: 'legacy anon key', key: legacyAnonKey },
    ];
    for (const k of keys) {
      await t.test(k.name, async () => {
        let current = tokenA;
        const { supabase, fetch } = client(() => current, { supabaseKey: k.key });
        assert.equal((await supabase.from('items').select()).error, null);
        current = null;
        assert.equal((await supabase.from('items').select()).error, null);
        assert.equal(fetch.count, 1, 'exchanges');
        assert.equal(gateway.rest.length, 2);
        const [signedIn, signedOut] = gateway.rest;
        assert.equal(signedIn.headers.apikey, k.key);
        const { payload } = verifyHS256(bearer(signedIn.headers.authorization), secret);
        assert.equal(payload.sub, 'user-a');
        assert.equal(signedOut.headers.apikey, k.key);
        assert.equal(signedOut.headers.authorization, `Bearer ${k.key}`, 'signed out: supabase-js sends the key as the bearer');
      });
    }
  });

  it('20 concurrent queries cause exactly one exchange', async (t) => {
    const { supabase, fetch } = client(() => tokenA);
    const results = await Promise.all(Array.from({ length: 20 }, () => supabase.from('items').select()));
    for (const { error, data } of results) {
      assert.equal(error, null);
      assert.deepEqual(data, ROWS);
    }
    t.diagnostic(`exchanges observed for 20 concurrent queries: ${fetch.count} (fetch), ${gateway.functions.length} (gateway)`);
    assert.equal(fetch.count, 1, 'exchanges counted by the fetch wrapper');
    assert.deepEqual(gateway.functions, ['/functions/v1/exchange'], 'exchanges seen by the gateway');
    assert.equal(gateway.rest.length, 20);
    const tokens = new Set(gateway.rest.map((r) => bearer(r.headers.authorization)));
    assert.equal(tokens.size, 1);
    verifyHS256([...tokens][0], secret);
  });

  it('a new provider token causes a new exchange', async () => {
    let current = tokenA;
    const { supabase, fetch } = client(() => current);
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal(fetch.count, 1);
    current = tokenB;
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal(fetch.count, 2);
    const subs = gateway.rest.map((r) => verifyHS256(bearer(r.headers.authorization), secret).payload.sub);
    assert.deepEqual(subs, ['user-a', 'user-a', 'user-b']);
  });

  it('a cached token past expires_at - skew causes a new exchange', async () => {
    let offsetMs = 0;
    const skewSeconds = 60;
    const { supabase, fetch } = client(() => tokenA, { skewSeconds, now: () => Date.now() + offsetMs });
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal(fetch.count, 1);
    const { exp } = decodeJWT(bearer(gateway.rest[0].headers.authorization));

    offsetMs = (exp - skewSeconds - 2) * 1000 - Date.now(); // still inside the window
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal(fetch.count, 1, 'no exchange before expires_at - skew');

    offsetMs = (exp - skewSeconds) * 1000 - Date.now();
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal(fetch.count, 2, 'an exchange at expires_at - skew');
    assert.equal(gateway.rest.length, 3);
  });

  it('a 401 from the exchange surfaces as SupabridgeError and no request goes out with a stale token', async () => {
    let current = tokenA;
    const { supabase, fetch } = client(() => current);
    assert.equal((await supabase.from('items').select()).error, null);
    assert.equal(gateway.rest.length, 1);

    // The provider token changes to one the exchange refuses (its signature is broken).
    const [h, p, s] = tokenB.split('.');
    const mid = s.length >> 1;
    current = `${h}.${p}.${s.slice(0, mid)}${s[mid] === 'A' ? 'B' : 'A'}${s.slice(mid + 1)}`;

    const err = await supabase
      .from('items')
      .select()
      .throwOnError()
      .then(
        () => assert.fail('the query succeeded; want a SupabridgeError'),
        (e) => e,
      );
    assert.ok(err instanceof SupabridgeError, `got ${err?.name}: ${err?.message}; want SupabridgeError`);
    assert.equal(err.status, 401);
    assert.equal(err.error, 'invalid_token');
    assert.equal(typeof err.error_description, 'string');
    assert.ok(!err.message.includes(current) && !err.message.includes(tokenA), 'message echoes a token');

    // Without throwOnError supabase-js reports it in { error } and still sends nothing.
    const { data, error } = await supabase.from('items').select();
    assert.equal(data, null);
    assert.match(error?.message ?? '', /^SupabridgeError: invalid_token/);

    assert.equal(fetch.count, 3, 'one exchange per attempt: failures are not cached');
    assert.equal(gateway.rest.length, 1, 'a request reached PostgREST after the exchange failed');
  });

  /** broken returns token with one signature character changed: the exchange refuses it. */
  function broken(token) {
    const [h, p, s] = token.split('.');
    const mid = s.length >> 1;
    return `${h}.${p}.${s.slice(0, mid)}${s[mid] === 'A' ? 'B' : 'A'}${s.slice(mid + 1)}`;
  }

  it('a refused provider token costs one exchange and fails without waiting out supabase-js retries', async (t) => {
    const cases = [
      { name: 'throwOnError', run: (q) => q.throwOnError().then(() => assert.fail('the query succeeded'), (e) => e) },
      { name: '{ error }', run: async (q) => (await q).error },
      { name: 'rpc (GET)', rpc: true, run: (q) => q.throwOnError().then(() => assert.fail('the query succeeded'), (e) => e) },
    ];
    for (const c of cases) {
      await t.test(c.name, async (st) => {
        const warn = st.mock.method(console, 'warn', () => {});
        const refused = broken(tokenB);
        const { supabase, fetch } = client(() => refused);
        const started = performance.now();
        const query = c.rpc ? supabase.rpc('items_count', {}, { get: true }) : supabase.from('items').select();
        const err = await c.run(query);
        const ms = Math.round(performance.now() - started);
        t.diagnostic(`${c.name}: refused provider token -> ${fetch.count} exchange call(s) in ${ms} ms`);
        assert.ok(err, 'no error');
        assert.match(String(err.message), /invalid_token/);
        assert.equal(fetch.count, 1, 'exchange calls for one refused token');
        assert.deepEqual(gateway.functions, ['/functions/v1/exchange'], 'exchanges seen by the gateway');
        assert.equal(gateway.rest.length, 0, 'a request reached PostgREST');
        // supabase-js's first back-off is 1 s: finishing well before it means no retry waited.
        assert.ok(ms < 900, `the query took ${ms} ms; a retry back-off starts at 1000 ms`);
        // createClient asked for a token for Realtime too (merged into the same exchange) and
        // logs its failure with console.warn: the SupabridgeError, without the token.
        await new Promise((r) => setImmediate(r));
        assert.equal(warn.mock.callCount(), 1, 'console.warn calls');
        const args = warn.mock.calls[0].arguments;
        assert.equal(args[0], 'Failed to set initial Realtime auth token:');
        assert.equal(args[1]?.name, 'SupabridgeError');
        assert.ok(!String(args[1]?.message).includes(refused) && !String(args[1]?.stack).includes(refused), 'the warning holds the token');
      });
    }
  });

  it('the Deno function\'s client works unchanged: POST with the bearer token, read { supabaseJwt }', async () => {
    const supabaseUrl = server.base;
    const providerToken = tokenA;
    // As users of the well-known Deno exchange function wrote it:
    const response = await fetch(`${supabaseUrl}/functions/v1/exchange`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${providerToken}`,
        'Content-Type': 'application/json',
      },
    });
    const { supabaseJwt } = await response.json();

    assert.equal(response.status, 200);
    assert.equal(typeof supabaseJwt, 'string');
    const { payload } = verifyHS256(supabaseJwt, secret);
    assert.equal(payload.sub, 'user-a');
    assert.equal(payload.role, 'authenticated');
  });
});
