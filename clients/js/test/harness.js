// Integration harness: builds and runs the real `supabridge serve` (exchange, refresh and
// the development issuer), a recording stand-in for Supabase's gateway, and an HS256
// verifier. Everything listens on 127.0.0.1 only.

import { spawn, execFile } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * REPO_ROOT is the Go module root: SUPABRIDGE_REPO_ROOT when set (scripts/test.sh sets it,
 * because under Node 20 the suite runs on a copy of the package outside the repository),
 * else two levels above clients/js.
 */
export const REPO_ROOT = process.env.SUPABRIDGE_REPO_ROOT
  ? resolve(process.env.SUPABRIDGE_REPO_ROOT)
  : resolve(fileURLToPath(new URL('../../..', import.meta.url)));

const run = promisify(execFile);

/**
 * buildSupabridge compiles ./cmd/supabridge into a fresh temporary directory and returns
 * {bin, dir}. Faster to start than `go run` and built once per test file.
 */
export async function buildSupabridge() {
  const dir = await mkdtemp(join(tmpdir(), 'supabridge-js-'));
  const bin = join(dir, 'supabridge');
  try {
    await run('go', ['build', '-o', bin, './cmd/supabridge'], {
      cwd: REPO_ROOT,
      env: { ...process.env, CGO_ENABLED: '0' },
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`go build ./cmd/supabridge failed:\n${err.stderr ?? err.message}`);
  }
  return { bin, dir };
}

/** newSecret returns a random Supabase JWT secret (64 hex characters, 32 bytes of entropy). */
export function newSecret() {
  return randomBytes(32).toString('hex');
}

const LISTENING = /^supabridge: listening on (http:\/\/127\.0\.0\.1:\d+)$/;

/**
 * startSupabridge runs `<bin> serve --addr 127.0.0.1:0` with exactly the given environment
 * (plus PATH and HOME) and resolves {base, stop, stderr, waitLine} once the first stdout
 * line names the address. With devIssuer it passes --dev-issuer: the development issuer is
 * mounted at /dev/issuer, and without a secret in env serve makes one and prints it
 * (waitLine(/^supabridge: dev secret (\S+)$/) reads it).
 *
 * @param {string} bin
 * @param {Record<string, string>} env
 */
export async function startSupabridge(bin, env, { timeoutMs = 30_000, devIssuer = false } = {}) {
  const args = ['serve', '--addr', '127.0.0.1:0', ...(devIssuer ? ['--dev-issuer'] : [])];
  const child = spawn(bin, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const stdoutLines = [];

  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error(`supabridge serve printed no address in ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
    lines.on('line', (line) => {
      stdoutLines.push(line);
      if (stdoutLines.length === 1) {
        clearTimeout(timer);
        const m = LISTENING.exec(line);
        if (m) resolveBase(m[1]);
        else reject(new Error(`first stdout line of supabridge serve: got ${JSON.stringify(line)}; want "supabridge: listening on http://127.0.0.1:<port>"`));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`supabridge serve exited (code ${code}, signal ${signal}) before listening; stderr:\n${stderr}`));
    });
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });

  /** @type {{re: RegExp, resolve: (m: RegExpExecArray) => void}[]} */
  const waiting = [];
  lines.on('line', (line) => {
    for (const [i, w] of waiting.entries()) {
      const m = w.re.exec(line);
      if (m) {
        waiting.splice(i, 1);
        w.resolve(m);
        break;
      }
    }
  });

  return {
    base,
    stdoutLines,
    stderr: () => stderr,
    /**
     * waitLine resolves the match of the first stdout line (printed so far or later)
     * matching re.
     * @param {RegExp} re
     * @returns {Promise<RegExpExecArray>}
     */
    waitLine(re, ms = 10_000) {
      for (const line of stdoutLines) {
        const m = re.exec(line);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => reject(new Error(`supabridge serve printed no line matching ${re} in ${ms} ms`)), ms);
        waiting.push({ re, resolve: (m) => { clearTimeout(timer); resolveLine(m); } });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * mintProviderToken asks the development issuer for an RS256 provider token.
 * @param {string} base
 * @param {Record<string, string>} fields sub, email, and optionally org_id, name
 */
export async function mintProviderToken(base, fields) {
  const res = await fetch(`${base}/dev/issuer/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  if (res.status !== 200) throw new Error(`dev issuer: got HTTP ${res.status}; want 200`);
  const body = await res.json();
  if (typeof body.access_token !== 'string') throw new Error('dev issuer answered without access_token');
  return body.access_token;
}

/**
 * startGateway serves the Supabase URL layout on 127.0.0.1: it records every request to
 * /rest/v1/* and answers rows as PostgREST would, and forwards /functions/v1/* to the real
 * supabridge at functionsBase, counting what it forwards.
 *
 * @param {string} functionsBase
 * @param {unknown[]} rows
 */
export async function startGateway(functionsBase, rows) {
  /** @type {{method: string, url: string, headers: import('node:http').IncomingHttpHeaders}[]} */
  const rest = [];
  /** @type {string[]} */
  const functions = [];
  const target = new URL(functionsBase);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/rest/v1/')) {
      rest.push({ method: req.method ?? '', url, headers: req.headers });
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(rows));
      return;
    }
    if (url.startsWith('/functions/v1/')) {
      functions.push(url);
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: url, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end('{"error":"temporarily_unavailable","error_description":"gateway: upstream failed"}');
      });
      req.pipe(upstream);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"message":"no route"}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    rest,
    functions,
    reset() {
      rest.length = 0;
      functions.length = 0;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

/**
 * verifyHS256 checks a JWT's HS256 signature with secret and returns {header, payload},
 * or throws.
 * @param {string} token
 * @param {string} secret
 */
export function verifyHS256(token, secret) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  const [h, p, s] = parts;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  if (header.alg !== 'HS256') throw new Error(`alg: got ${header.alg}; want HS256`);
  const want = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const got = Buffer.from(s, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error('HS256 signature does not verify');
  return { header, payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) };
}

/** signHS256 signs payload with secret (for the legacy anon key, which is such a JWT). */
export function signHS256(payload, secret) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/**
 * clientOptionsForThisNode is what createClient needs on the running Node: nothing on
 * Node 22 and later; on Node 20 a realtime transport (the `ws` package), without which
 * supabase-js 2.105.2 to 2.109.0 throw "Node.js 20 detected without native WebSocket
 * support" from createClient.
 */
export async function clientOptionsForThisNode() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return {};
  const { default: WebSocket } = await import('ws');
  return { realtime: { transport: WebSocket } };
}

/** decodeJWT reads a JWT's payload without verifying it. */
export function decodeJWT(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** bearer extracts the token of an "Authorization: Bearer <token>" header value. */
export function bearer(value) {
  const m = /^Bearer (.+)$/.exec(String(value ?? ''));
  if (!m) throw new Error(`authorization: got ${JSON.stringify(value)}; want "Bearer <token>"`);
  return m[1];
}

/**
 * countingFetch wraps the global fetch and counts requests whose path ends with suffix.
 * @param {string} suffix
 */
export function countingFetch(suffix) {
  const f = (input, init) => {
    if (new URL(String(input)).pathname.endsWith(suffix)) f.count++;
    return fetch(input, init);
  };
  f.count = 0;
  return f;
}

// ---- Dex (internal/testenv/dex, through cmd/dexrun) ----

const DEXRUN = './internal/testenv/dex/cmd/dexrun';

/** dexMissing says why this test cannot run yet, or '' when it can. */
export function dexMissing() {
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
 * until its stdin closes or it gets SIGTERM. args go to dexrun (e.g. -redirect-uris).
 */
export async function startDex(dir, args = []) {
  const bin = join(dir, 'dexrun');
  await promisify(execFile)('go', ['build', '-o', bin, DEXRUN], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  const child = spawn(bin, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
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
export async function passwordGrant(dex) {
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
