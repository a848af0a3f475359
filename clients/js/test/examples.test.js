// One source for the snippets: every code block marked `<!-- example: <path> -->` in the
// READMEs must equal that file, and the NextAuth example is run here (the supabase-js one
// in exchange.integration.test.js, the refresh path against Dex in refresh.dex.test.js).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

import { callbacks } from '../examples/nextauth.js';
import { REFRESH_ACCESS_TOKEN_ERROR } from '../index.js';
import { json, spyConsole, stubFetch } from './helpers.js';
import { REPO_ROOT } from './harness.js';

const here = new URL('..', import.meta.url); // clients/js/ (or its copy, under Node 20)
const repo = pathToFileURL(`${REPO_ROOT}/`);

const DOCS = [
  { name: 'clients/js/README.md', doc: new URL('README.md', here), base: here, want: ['examples/supabase.js', 'examples/auth.config.ts', 'examples/auth.ts', 'examples/nextauth.js'] },
  { name: 'README.md', doc: new URL('README.md', repo), base: repo, want: ['clients/js/examples/supabase.js', 'clients/js/examples/auth.config.ts', 'clients/js/examples/auth.ts'] },
];

const MARKED_BLOCK = /<!-- example: (\S+) -->\n```(?:js|ts)\n([\s\S]*?)```\n/g;

describe('README snippets', () => {
  for (const { name, doc, base, want } of DOCS) {
    it(`${name} shows the example files verbatim`, async () => {
      const text = await readFile(doc, 'utf8');
      const blocks = [...text.matchAll(MARKED_BLOCK)];
      assert.deepEqual(blocks.map((m) => m[1]), want, 'marked blocks');
      for (const [, path, code] of blocks) {
        const file = await readFile(new URL(path, base), 'utf8');
        assert.equal(code, file, `the block marked ${path} differs from the file`);
      }
    });
  }
});

describe('examples/nextauth.js', () => {
  const T = Math.floor(Date.now() / 1000);

  it('keeps the provider tokens at sign-in without a request', async (t) => {
    const quiet = spyConsole(t);
    const fetch = stubFetch(() => assert.fail('fetch called'));
    t.mock.method(globalThis, 'fetch', fetch);
    const got = await callbacks.jwt({
      token: { sub: 'u', email: 'e@example.com' },
      account: { access_token: 'at', id_token: 'it', refresh_token: 'rt', expires_at: T + 300, provider: 'dex' },
    });
    assert.deepEqual(got, { sub: 'u', email: 'e@example.com', access_token: 'at', id_token: 'it', refresh_token: 'rt', expires_at: T + 300 });
    assert.equal(fetch.calls.length, 0);
    quiet();
  });

  it('refreshes near expiry through ${SUPABASE_URL}/functions/v1/refresh and marks failures', async (t) => {
    const quiet = spyConsole(t);
    const saved = process.env.SUPABASE_URL;
    process.env.SUPABASE_URL = 'https://project.example';
    t.after(() => {
      if (saved === undefined) delete process.env.SUPABASE_URL;
      else process.env.SUPABASE_URL = saved;
    });
    let ok = true;
    const fetch = stubFetch(() =>
      ok
        ? json(200, { access_token: 'sb', supabaseJwt: 'sb', expires_at: T + 3600, refresh_token: 'refresh-secret-2', provider_token: 'at2' })
        : json(400, { error: 'invalid_grant', error_description: 'refused' }),
    );
    t.mock.method(globalThis, 'fetch', fetch);
    const token = { sub: 'u', access_token: 'at', refresh_token: 'refresh-secret', expires_at: T + 10 };

    const fresh = { ...token, expires_at: T + 3000 };
    assert.equal(await callbacks.jwt({ token: fresh }), fresh, 'not near expiry: unchanged');
    assert.equal(fetch.calls.length, 0);

    const got = await callbacks.jwt({ token });
    assert.equal(fetch.calls[0].url, 'https://project.example/functions/v1/refresh');
    assert.equal(got.refresh_token, 'refresh-secret-2');
    assert.equal(got.access_token, 'at2');
    assert.equal(got.supabase_access_token, 'sb');

    ok = false;
    const failed = await callbacks.jwt({ token });
    assert.equal(failed.error, REFRESH_ACCESS_TOKEN_ERROR);

    const session = await callbacks.session({ session: { user: { email: 'e@example.com' } }, token: failed });
    assert.deepEqual(session, { user: { email: 'e@example.com' }, accessToken: 'at', error: 'RefreshAccessTokenError' });
    assert.equal(JSON.stringify(session).includes('refresh-secret'), false, 'the session carries the refresh token');
    quiet();
  });
});
