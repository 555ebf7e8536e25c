/**
 * `login --device` as the command runs it (src/commands/login.ts), in process, with stderr a
 * terminal of a known size: the QR code of the verification address appears there, and not under
 * `--json`. (Through the built CLI stderr is a pipe: test/e2e/device.test.ts shows no QR code.)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/commands/login.js';
import { invocation, testContext, type TestContext } from '../helpers/context.js';
import { approveDevice } from '../helpers/device-browser.js';
import { realClock } from '../helpers/flows.js';
import { PUBLIC_CLIENT_ID, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp({ deviceFlow: { interval: 1 } });
});
afterAll(async () => {
  await idp?.close();
});

/** A context whose stderr is a 120×60 terminal. */
function terminalContext(): TestContext {
  const home = mkdtempSync(join(tmpdir(), 'authbridge-device-cmd-'));
  const ctx = testContext({
    now: realClock,
    env: { HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_CACHE_HOME: join(home, 'cache'), AUTHBRIDGE_ISSUER: idp.issuer, AUTHBRIDGE_CLIENT_ID: PUBLIC_CLIENT_ID },
  });
  Object.assign(ctx.stderr, { isTTY: true, columns: 120, rows: 60 });
  return ctx;
}

/** Resolves with the first match of `pattern` in what `ctx` has written to stderr. */
async function stderrMatch(ctx: TestContext, pattern: RegExp): Promise<RegExpMatchArray> {
  for (;;) {
    const match = pattern.exec(ctx.err());
    if (match) return match;
    await new Promise<void>((resolve) => ctx.stderr.once('data', () => resolve()));
  }
}

const COMPLETE_URI = /which holds the code: (\S+)/;
const QR_BLOCKS = /[▀▄█]/;

describe('login --device on a terminal', () => {
  it.each([
    ['human output: the QR code under the codes', false, true],
    ['--json: no QR code, the JSON document on stdout', true, false],
  ])('%s', async (_name, json, qr) => {
    const ctx = terminalContext();
    const signedIn = run(invocation(ctx, { json }), { profile: {}, timeoutSeconds: 300, noBrowser: false, exchange: false, device: true, clientCredentials: false });
    const [, complete] = await stderrMatch(ctx, COMPLETE_URI);
    await approveDevice(complete!);
    expect(await signedIn).toBe('ok');
    expect(QR_BLOCKS.test(ctx.err())).toBe(qr);
    if (json) expect(JSON.parse(ctx.out())).toMatchObject({ issuer: idp.issuer, subject: 'alice' });
    else expect(ctx.out()).toBe('');
  });
});
