// index.d.ts is checked by the TypeScript compiler against supabase-js's own types
// (test/types/usage.ts), index.js against its JSDoc, and its exports against the module's.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as client from '../index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

it('tsc accepts index.js, index.d.ts and test/types/usage.ts', { timeout: 60_000 }, async () => {
  // Wherever the install put it: clients/js/node_modules, or the Node 20 set's.
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root });
  } catch (err) {
    assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
});

it('tsc accepts the Auth.js v5 examples (examples/*.ts) as a Next.js app compiles them', { timeout: 60_000 }, async () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.examples.json'], { cwd: root });
  } catch (err) {
    assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
});

it('index.d.ts declares exactly what index.js exports', async () => {
  const dts = await readFile(new URL('../index.d.ts', import.meta.url), 'utf8');
  const declared = [...dts.matchAll(/^export declare (?:function|class|const) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(client).sort());
});
