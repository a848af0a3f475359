// What each supported Node needs from the app, as the README states it: on Node 20,
// supabase-js 2.105.2 to 2.109.0 throw from createClient unless realtime has a transport
// (ws) or Node runs with --experimental-websocket; on Node 22 nothing is needed.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const version = require('@supabase/supabase-js/package.json').version;
const nodeMajor = Number(process.versions.node.split('.')[0]);
const [minor, patch] = version.split('.').slice(1).map(Number);
const throwsOnNode20 = minor > 105 || (minor === 105 && patch >= 2); // 2.105.2 and later

/** tryCreate runs createClient in a fresh node (with flags) and says whether it threw. */
async function tryCreate(flags, options) {
  const script = `
    import { createClient } from '@supabase/supabase-js';
    const options = ${options};
    try { createClient('http://127.0.0.1:9', 'sb_publishable_x', await options()); console.log('ok'); }
    catch (e) { console.log('threw: ' + e.message.split('\\n')[0]); }`;
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', script], {
    cwd: new URL('.', import.meta.url),
  });
  return stdout.trim();
}

const accessToken = `async () => ({ accessToken: async () => null })`;
const withWs = `async () => ({ accessToken: async () => null, realtime: { transport: (await import('ws')).default } })`;

it(`Node ${process.versions.node} with supabase-js ${version}: what createClient needs`, { timeout: 60_000 }, async (t) => {
  if (nodeMajor >= 22) {
    assert.equal(await tryCreate([], accessToken), 'ok', 'Node 22 has a native WebSocket');
    return;
  }
  assert.equal(nodeMajor, 20, 'this suite supports Node 20 and 22');
  assert.ok(throwsOnNode20, `the Node 20 set pins supabase-js ${version}; the README's advice is about 2.105.2 to 2.109.0`);
  const bare = await tryCreate([], accessToken);
  t.diagnostic(`without a transport: ${bare}`);
  assert.equal(bare, 'threw: Node.js 20 detected without native WebSocket support.');
  assert.match(await tryCreate([], `async () => ({})`), /^threw: Node\.js 20 detected/, 'without accessToken too');
  assert.equal(await tryCreate([], withWs), 'ok', 'realtime: { transport: ws }');
  assert.equal(await tryCreate(['--experimental-websocket'], accessToken), 'ok', '--experimental-websocket');
});
