// examples/nextauth.js (refreshProviderTokens) against the real refresh function of
// `supabridge serve`, backed by a real Dex from internal/testenv/dex (cmd/dexrun):
// rotating refresh tokens, refused at once when reused.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import { callbacks } from '../examples/nextauth.js';
import { REFRESH_ACCESS_TOKEN_ERROR } from '../index.js';
import { REPO_ROOT, buildSupabridge, decodeJWT, newSecret, startSupabridge, verifyHS256 } from './harness.js';

const DEXRUN = './internal/testenv/dex/cmd/dexrun';

/** missing says why this test cannot run yet, or '' when it can. */
function missing() {
  if (process.env.SUPABRIDGE_SKIP_DEX === '1') return 'SUPABRIDGE_SKIP_DEX=1';
  if (!existsSync(join(REPO_ROOT, DEXRUN))) return `${DEXRUN} does not exist yet (the Dex harness)`;
  const refresh = join(REPO_ROOT, 'shared/refresh');
  const hasCode = existsSync(refresh) && readdirSync(refresh).some((f) => f.endsWith('.go') && !f.endsWith('_test.go'));
  if (!hasCode) return 'shared/refresh has no code yet (the refresh function)';
  return '';
}

/**
 * startDex builds and runs cmd/dexrun, which prints one line of JSON describing the running
 * Dex ({issuer, token_url, client_id, client_secret, users: [{email, password}]}) and serves
 * until its stdin closes or it gets SIGTERM.
 */
async function startDex(dir) {
  const bin = join(dir, 'dexrun');
  await promisify(execFile)('go', ['build', '-o', bin, DEXRUN], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  const child = spawn(bin, [], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    child.stdin.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const info = await new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.once('line', (line) => {
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error('dexrun\'s first stdout line is not JSON'));
        }
      });
      exited.then((code) => reject(new Error(`dexrun exited (${code}) before printing its JSON; stderr:\n${stderr}`)));
    });
    const user = info.users?.[0];
    const dex = {
      issuer: info.issuer,
      tokenURL: info.token_url,
      clientID: info.client_id,
      clientSecret: info.client_secret,
      email: user?.email,
      password: user?.password,
      stop,
    };
    for (const [k, v] of Object.entries(dex)) {
      if (v === undefined) throw new Error(`dexrun's JSON lacks ${k}; got keys ${Object.keys(info).join(', ')}`);
    }
    return dex;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** passwordGrant logs the user in at Dex (RFC 6749 §4.3) with offline_access. */
async function passwordGrant(dex) {
  const res = await fetch(dex.tokenURL, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${encodeURIComponent(dex.clientID)}:${encodeURIComponent(dex.clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'password',
      username: dex.email,
      password: dex.password,
      scope: 'openid email profile offline_access',
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `Dex password grant: ${body.error}`);
  assert.equal(typeof body.refresh_token, 'string');
  return body;
}

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

