// examples/auth.config.ts (Auth.js v5) through the real @auth/core: a browser's
// authorization-code sign-in at a real Dex (the Authentik provider is plain OIDC, pointed at
// Dex's issuer), then the session endpoint, whose JWT callback renews the provider's tokens
// through the real refresh function of `supabridge serve`. Time passing is simulated the way
// it happens to a session cookie: the test decodes it with the app's secret, moves
// expires_at near, and encodes it again.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import ts from 'typescript';
import { Auth } from '@auth/core';
import { decode, encode } from '@auth/core/jwt';

import { buildSupabridge, decodeJWT, dexMissing, newSecret, startDex, startSupabridge, verifyHS256 } from './harness.js';

const APP = 'http://127.0.0.1:3000'; // the Next.js app's origin; never listened on: requests go to Auth() in-process
const CALLBACK = `${APP}/auth/callback/authentik`;
const SESSION_COOKIE = 'authjs.session-token'; // the name on http://; the cookie's salt too
const why = dexMissing();

/**
 * loadExample compiles examples/auth.config.ts with the pinned TypeScript (type stripping
 * only; the type check is types.test.js's) next to the package, so its imports resolve as in
 * an app, and imports it.
 */
async function loadExample() {
  const src = fileURLToPath(new URL('../examples/auth.config.ts', import.meta.url));
  const out = ts.transpileModule(await readFile(src, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: src,
  });
  const dir = fileURLToPath(new URL('./.compiled/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `auth.config.${process.pid}.mjs`);
  await writeFile(file, out.outputText);
  try {
    return (await import(pathToFileURL(file).href)).default;
  } finally {
    await rm(file, { force: true });
  }
}

/** Browser is a cookie jar in front of Auth(): what a browser does between the app and Dex. */
class Browser {
  /** @param {(req: Request) => Promise<Response>} app */
  constructor(app) {
    this.app = app;
    /** @type {Map<string, string>} */
    this.jar = new Map();
  }

  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** @param {Response} res */
  keep(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /** request sends method path (on the app) with the jar, and keeps what it sets. */
  async request(method, path, body) {
    const headers = new Headers({ cookie: this.cookieHeader() });
    if (body) headers.set('content-type', 'application/x-www-form-urlencoded');
    const res = await this.app(new Request(`${APP}${path}`, { method, headers, body: body ? new URLSearchParams(body) : undefined }));
    this.keep(res);
    return res;
  }

  /** sessionToken joins the session cookie (chunked past 4 KB) as Auth.js does. */
  sessionToken() {
    const single = this.jar.get(SESSION_COOKIE);
    if (single) return single;
    const chunks = [...this.jar].filter(([k]) => k.startsWith(`${SESSION_COOKIE}.`));
    chunks.sort(([a], [b]) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
    return chunks.map(([, v]) => v).join('');
  }

  setSessionToken(value) {
    for (const k of [...this.jar.keys()]) if (k.startsWith(SESSION_COOKIE)) this.jar.delete(k);
    this.jar.set(SESSION_COOKIE, value);
  }

  clone() {
    const b = new Browser(this.app);
    b.jar = new Map(this.jar);
    return b;
  }
}

/** dexLogin follows Dex from its authorization URL to our callback, filling its login form. */
async function dexLogin(authorizeURL, user) {
  let url = authorizeURL;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: 'manual' });
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location') ?? '', url).href;
      await res.arrayBuffer();
      if (next.startsWith(CALLBACK)) return next;
      url = next;
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, `Dex answered ${res.status} at ${new URL(url).pathname}`);
    assert.match(html, /name="password"/, `Dex page at ${new URL(url).pathname} has no login form`);
    const post = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: user.email, password: user.password }),
    });
    await post.arrayBuffer();
    assert.ok(post.status >= 300 && post.status < 400, `Dex refused the login: ${post.status}`);
    url = new URL(post.headers.get('location') ?? '', url).href;
    if (url.startsWith(CALLBACK)) return url;
  }
  throw new Error('Dex did not redirect to the callback within 10 hops');
}

describe('Auth.js v5 (examples/auth.config.ts) through the real @auth/core, supabridge refresh and Dex', { skip: why || false, timeout: 900_000 }, () => {
  const supabaseSecret = newSecret();
  const authSecret = randomBytes(32).toString('base64url');
  let dir = '';
  let build;
  let dex;
  let server;
  /** @type {any} */
  let config;
  const saved = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'supabridge-js-authjs-'));
    [build, dex] = await Promise.all([buildSupabridge(), startDex(dir, ['-redirect-uris', CALLBACK])]);
    server = await startSupabridge(build.bin, {
      SUPABASE_JWT_SECRET: supabaseSecret,
      AUTH_ISSUER: dex.issuer,
      AUTH_AUDIENCE: dex.clientID,
      AUTH_CLIENT_ID: dex.clientID,
      AUTH_CLIENT_SECRET: dex.clientSecret,
    });
    // What the example reads: the Authentik provider's settings, pointed at Dex, and the
    // Supabase URL whose /functions/v1/refresh is supabridge.
    const env = {
      AUTH_AUTHENTIK_ID: dex.clientID,
      AUTH_AUTHENTIK_SECRET: dex.clientSecret,
      AUTH_AUTHENTIK_ISSUER: dex.issuer,
      SUPABASE_URL: server.base,
    };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    const example = await loadExample();
    config = { ...example, secret: authSecret, trustHost: true, basePath: '/auth', logger: { error() {}, warn() {}, debug() {} } };
  });

  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await server?.stop();
    await dex?.stop();
    if (build) await rm(build.dir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(fileURLToPath(new URL('./.compiled/', import.meta.url)), { recursive: true, force: true });
  });

  const app = (req) => Auth(req, config);

  /** signIn is a browser signing in: the app's sign-in, Dex's login form, the app's callback. */
  async function signIn() {
    const browser = new Browser(app);
    const csrf = await (await browser.request('GET', '/auth/csrf')).json();
    const start = await browser.request('POST', '/auth/signin/authentik', { csrfToken: csrf.csrfToken, callbackUrl: `${APP}/` });
    assert.equal(start.status, 302, 'sign-in redirects to the provider');
    const authorize = start.headers.get('location') ?? '';
    assert.ok(authorize.startsWith(dex.issuer), `sign-in went to ${authorize.slice(0, 60)}, not Dex`);
    assert.match(new URL(authorize).searchParams.get('scope') ?? '', /\boffline_access\b/);
    const back = new URL(await dexLogin(authorize, dex));
    const done = await browser.request('GET', `${back.pathname}${back.search}`);
    assert.equal(done.status, 302, 'the callback signs in and redirects');
    assert.equal(new URL(done.headers.get('location') ?? '').pathname, '/', 'redirected to the callbackUrl, not an error page');
    return browser;
  }

  /** token decodes the session cookie, as the app's server code (auth()) sees it. */
  async function token(browser) {
    return decode({ token: browser.sessionToken(), secret: authSecret, salt: SESSION_COOKIE });
  }

  /** expireSoon rewrites the session cookie as if its provider token had 30 s left. */
  async function expireSoon(browser, t) {
    const value = await encode({ token: { ...t, expires_at: Math.floor(Date.now() / 1000) + 30 }, secret: authSecret, salt: SESSION_COOKIE });
    browser.setSessionToken(value);
  }

  async function session(browser) {
    const res = await browser.request('GET', '/auth/session');
    assert.equal(res.status, 200);
    return res.json();
  }

  it('first sign-in keeps the provider tokens; the session gets the access token, never the refresh token', async () => {
    const browser = await signIn();
    const t = await token(browser);
    assert.equal(typeof t.access_token, 'string');
    assert.equal(typeof t.refresh_token, 'string', 'offline_access gave a refresh token');
    assert.equal(decodeJWT(t.id_token).iss, dex.issuer);
    assert.ok(t.expires_at > Date.now() / 1000 + 60, 'expires_at from the provider');
    assert.equal(t.error, undefined);

    const s = await session(browser);
    assert.equal(s.accessToken, t.access_token);
    assert.equal(s.user?.email, dex.email);
    assert.equal(s.error, undefined);
    assert.equal(JSON.stringify(s).includes(t.refresh_token), false, 'the session carries the refresh token');
    const after = await token(browser);
    assert.equal(after.refresh_token, t.refresh_token, 'far from expiry: no refresh');
  });

  it('near expiry the session endpoint renews through refresh: new tokens, rotated refresh token, a Supabase JWT', async () => {
    const browser = await signIn();
    const t = await token(browser);
    await expireSoon(browser, t);
    const s = await session(browser);
    assert.equal(s.error, undefined, 'refresh failed');
    const next = await token(browser);
    assert.notEqual(next.refresh_token, t.refresh_token, 'Dex rotates: the refresh token must change');
    assert.notEqual(next.access_token, t.access_token);
    assert.equal(s.accessToken, next.access_token);
    const { payload } = verifyHS256(next.supabase_access_token, supabaseSecret);
    assert.equal(payload.sub, decodeJWT(t.id_token).sub);
    assert.equal(payload.role, 'authenticated');
    assert.ok(next.expires_at > Date.now() / 1000 + 60, `expires_at ${next.expires_at} moved on`);
  });

  it('a spent refresh token ends in session.error "RefreshTokenError"', async () => {
    const browser = await signIn();
    const t = await token(browser);
    const stale = browser.clone();
    await expireSoon(browser, t);
    assert.equal((await session(browser)).error, undefined, 'first renewal');

    await expireSoon(stale, t); // an old cookie whose refresh token Dex has rotated away
    const s = await session(stale);
    assert.equal(s.error, 'RefreshTokenError');
    const failed = await token(stale);
    assert.equal(failed.refresh_error, 'invalid_grant');
    assert.equal(failed.refresh_token, t.refresh_token, 'the failed token keeps what it had');
  });

  it('two concurrent renewals of one session refresh once, and both succeed', async () => {
    const browser = await signIn();
    const t = await token(browser);
    await expireSoon(browser, t);
    const a = browser.clone();
    const b = browser.clone();
    const [sa, sb] = await Promise.all([session(a), session(b)]);
    assert.equal(sa.error, undefined, 'first renewal failed');
    assert.equal(sb.error, undefined, 'second renewal failed: the refresh token was sent twice');
    const [ta, tb] = await Promise.all([token(a), token(b)]);
    assert.notEqual(ta.refresh_token, t.refresh_token);
    assert.equal(ta.refresh_token, tb.refresh_token, 'one refresh, one rotated token');
  });
});
