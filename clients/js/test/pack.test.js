// The package as a user installs it: `npm pack` makes the tarball, npm installs it into an
// empty project beside the supabase-js this suite runs on, and the README's snippets, copied
// out of the README into that project, run there against the real functions (`supabridge
// serve --dev-issuer`): a query through supabase-js, and a NextAuth v4 refresh that the
// development issuer's rotating refresh token makes real. The installs come from npm's cache
// when it holds the packages (--prefer-offline): the tarball has no dependencies.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { bearer, buildSupabridge, startGateway, startSupabridge, verifyHS256 } from './harness.js';

const run = promisify(execFile);
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const MARKED_BLOCK = /<!-- example: (\S+) -->\n```(?:js|ts)\n([\s\S]*?)```\n/g;
const nodeMajor = Number(process.versions.node.split('.')[0]);

describe('npm pack, installed into an empty project', { timeout: 600_000 }, () => {
  let dir = '';
  let project = '';
  let tarball = '';
  /** @type {any} */
  let packed;
  let build;
  let server;
  let gateway;
  let secret = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'supabridge-js-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: pkgDir, maxBuffer: 8 << 20 });
    [packed] = JSON.parse(stdout);
    tarball = join(dir, packed.filename);
    project = join(dir, 'app');
    await run('mkdir', [project]);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const deps = [tarball, `@supabase/supabase-js@${require('@supabase/supabase-js/package.json').version}`];
    if (nodeMajor < 22) deps.push(`ws@${require('ws/package.json').version}`);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...deps], { cwd: project, maxBuffer: 8 << 20 });

    build = await buildSupabridge();
    server = await startSupabridge(build.bin, {}, { devIssuer: true });
    secret = (await server.waitLine(/^supabridge: dev secret ([0-9a-f]{64})$/))[1];
    gateway = await startGateway(server.base, [{ id: 1 }]);
  });

  after(async () => {
    await gateway?.close();
    await server?.stop();
    if (build) await rm(build.dir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the tarball holds the module, its types, the README and package.json, and nothing else', async (t) => {
    t.diagnostic(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files`);
    const files = packed.files.map((f) => f.path).sort();
    assert.deepEqual(files, ['README.md', 'index.d.ts', 'index.js', 'package.json']);
    const manifest = JSON.parse(await readFile(join(project, 'node_modules/@supabridge/client/package.json'), 'utf8'));
    assert.equal(manifest.name, '@supabridge/client');
    assert.equal(manifest.private, undefined, 'private packages cannot be published');
    assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(Object.keys(manifest.exports['.']), ['types', 'default']);
    assert.equal(manifest.dependencies, undefined, 'the module has no dependencies');
  });

  it('TypeScript finds the types through the exports map', async () => {
    await writeFile(
      join(project, 'check.ts'),
      `import { supabridgeAccessToken, SupabridgeError } from '@supabridge/client';\n` +
        `const f: () => Promise<string | null> = supabridgeAccessToken({ url: 'https://x.example', getProviderToken: () => null });\n` +
        `const e: boolean = new SupabridgeError({ error: 'invalid_token', status: 401 }).retryable;\n` +
        `// @ts-expect-error url is required\nsupabridgeAccessToken({ getProviderToken: () => null });\nvoid f; void e;\n`,
    );
    const tsc = require.resolve('typescript/bin/tsc');
    try {
      await run(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', 'check.ts'], { cwd: project });
    } catch (err) {
      assert.fail(`tsc in the app failed:\n${err.stdout}${err.stderr}`);
    }
  });

  it("the README's snippets run from the app against the real functions", async () => {
    const readme = await readFile(join(pkgDir, 'README.md'), 'utf8');
    const blocks = new Map([...readme.matchAll(MARKED_BLOCK)].map((m) => [m[1], m[2]]));
    for (const name of ['examples/supabase.js', 'examples/nextauth.js']) {
      assert.ok(blocks.has(name), `README has no block marked ${name}`);
      await writeFile(join(project, name.replace('examples/', '')), blocks.get(name));
    }
    // A signed-in user: the development issuer's tokens, as a provider's sign-in gives them.
    const login = await (
      await fetch(`${server.base}/dev/issuer/token`, { method: 'POST', body: new URLSearchParams({ sub: 'packed-user', email: 'p@example.com' }) })
    ).json();
    await writeFile(
      join(project, 'main.js'),
      `import { createSupabaseClient } from './supabase.js';
import { callbacks } from './nextauth.js';
const clientOptions = Number(process.versions.node.split('.')[0]) < 22
  ? { realtime: { transport: (await import('ws')).default } } : undefined;
const supabase = createSupabaseClient({
  supabaseUrl: process.env.GATEWAY_URL, supabaseKey: 'sb_publishable_app', clientOptions,
  getProviderToken: () => process.env.PROVIDER_TOKEN,
});
const { data, error } = await supabase.from('items').select();
const token = { sub: 'packed-user', access_token: process.env.PROVIDER_TOKEN,
  refresh_token: process.env.REFRESH_TOKEN, expires_at: Math.floor(Date.now() / 1000) + 10 };
const renewed = await callbacks.jwt({ token });
const reused = await callbacks.jwt({ token });
console.log(JSON.stringify({ data, error, renewed, reused }));
`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], {
      cwd: project,
      env: {
        PATH: process.env.PATH,
        GATEWAY_URL: gateway.url,
        SUPABASE_URL: server.base,
        PROVIDER_TOKEN: login.access_token,
        REFRESH_TOKEN: login.refresh_token,
      },
    });
    const out = JSON.parse(stdout.trim().split('\n').pop());
    assert.equal(out.error, null);
    assert.deepEqual(out.data, [{ id: 1 }]);
    assert.equal(gateway.rest.length, 1);
    assert.equal(gateway.rest[0].headers.apikey, 'sb_publishable_app');
    assert.equal(verifyHS256(bearer(gateway.rest[0].headers.authorization), secret).payload.sub, 'packed-user');

    assert.equal(out.renewed.error, undefined, `refresh failed: ${out.renewed.refresh_error}`);
    assert.notEqual(out.renewed.refresh_token, login.refresh_token, 'the dev issuer rotates refresh tokens');
    assert.equal(verifyHS256(out.renewed.supabase_access_token, secret).payload.sub, 'packed-user');
    assert.equal(out.reused.error, 'RefreshAccessTokenError', 'the v4 example keeps the v4 marker');
    assert.equal(out.reused.refresh_error, 'invalid_grant');
  });
});
