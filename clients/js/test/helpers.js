// Shared test helpers: a recording fetch stub, JSON responses, JWT-shaped strings and a
// console spy. No network.

import assert from 'node:assert/strict';

/**
 * stubFetch returns a fetch that records every call and answers with handler(call).
 * @param {(call: {url: string, init: RequestInit, n: number}) => Response | Promise<Response>} handler
 */
export function stubFetch(handler) {
  /** @type {{url: string, init: RequestInit, n: number}[]} */
  const calls = [];
  const f = async (url, init = {}) => {
    const call = { url: String(url), init, n: calls.length + 1 };
    calls.push(call);
    return handler(call);
  };
  f.calls = calls;
  return f;
}

/** json builds a Response the way the functions answer. */
export function json(status, body) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

/** exchangeBody is the contract's exchange success JSON for token. */
export function exchangeBody(token, expiresAt, nowSec) {
  return {
    supabaseJwt: token,
    access_token: token,
    token_type: 'bearer',
    expires_in: expiresAt - nowSec,
    expires_at: expiresAt,
    issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  };
}

/** fakeJWT returns an unsigned JWT-shaped string carrying payload. */
export function fakeJWT(payload) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(payload)}.sig`;
}

/** clock is a settable clock in milliseconds. */
export function clock(startSec) {
  let ms = startSec * 1000;
  const now = () => ms;
  now.set = (sec) => {
    ms = sec * 1000;
  };
  return now;
}

/** deferred returns a promise with its resolve function exposed. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir'];

/**
 * spyConsole replaces the console methods with recorders for the rest of test t and
 * returns a function asserting that nothing was written.
 * @param {import('node:test').TestContext} t
 */
export function spyConsole(t) {
  const spies = CONSOLE_METHODS.map((m) => t.mock.method(console, m, () => {}));
  return () => {
    for (const [i, spy] of spies.entries()) {
      assert.equal(spy.mock.callCount(), 0, `console.${CONSOLE_METHODS[i]} was called`);
    }
  };
}
