/**
 * Signing in without a browser on this machine, through the built CLI against a real OpenID
 * provider with its device flow on (`interval` 1 s): over SSH with no display `login` prints the
 * URL and the code, the "user" approves at the IdP's device pages over HTTP, and the session is
 * cached. The flow's cases (slow_down, refusals, expiry) are tested in process in
 * test/flows/device.test.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { approveDevice } from '../helpers/device-browser.js';
import { driveLogin, startCli } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
/** A provider without the device flow. */
let plain: Idp;
beforeAll(async () => {
  [idp, plain] = await Promise.all([startIdp({ deviceFlow: { interval: 1 } }), startIdp()]);
});
afterAll(async () => {
  await Promise.all([idp?.close(), plain?.close()]);
});

/** An SSH session with no display and no BROWSER (isolatedEnv passes neither DISPLAY nor BROWSER). */
function sshEnv(at: Idp = idp, extra: Record<string, string | undefined> = {}) {
  return idpEnv(at, isolatedEnv(), { SSH_CONNECTION: '10.0.0.7 50522 10.0.0.2 22', SSH_TTY: '/dev/pts/4', ...extra });
}

function cacheFile(e: Record<string, string>, profile = 'default') {
  return join(e.XDG_CACHE_HOME!, 'authbridge', `${profile}.json`);
}

function cached(e: Record<string, string>): boolean {
  try {
    statSync(cacheFile(e));
    return true;
  } catch {
    return false;
  }
}

const COMPLETE_URI = /or open this address, which holds the code: (http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\S+)/;

describe('login over SSH without a display', () => {
  it('uses the device flow: says why, prints the URL and the code on stderr, signs in, caches 0600', async () => {
    const e = sshEnv();
    const cli = startCli(['login'], e);
    const [, complete] = await cli.waitForStderr(COMPLETE_URI);
    await approveDevice(complete!);
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    const code = new URL(complete!).searchParams.get('user_code')!;
    expect(result.stderr).toContain(
      'No browser here (SSH without a display): signing in with the device flow (--no-browser prints the URL and reads the pasted redirect instead).',
    );
    expect(result.stderr).toContain(`To sign in, open ${idp.issuer}/device on any device and enter the code\n\n  ${code}\n`);
    expect(result.stderr).toContain('The code expires in 10 minutes.');
    // Not a terminal: no QR code, no spinner.
    expect(result.stderr).not.toMatch(/[▀▄█]/);
    expect(result.stderr).toMatch(/Signed in/);
    expect(result.stdout).toBe('');
    const entry = JSON.parse(readFileSync(cacheFile(e), 'utf8')) as Record<string, unknown>;
    expect(entry).toMatchObject({ issuer: idp.issuer, subject: 'alice', client_id: 'cli' });
    expect(statSync(cacheFile(e)).mode & 0o777).toBe(0o600);
    const token = await runCli(['token'], { env: e });
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toBe(entry.access_token);
  });

  it('login --device --json: the same JSON document as login on stdout, the prompt on stderr', async () => {
    const e = idpEnv(idp, isolatedEnv());
    const cli = startCli(['login', '--device', '--json'], e);
    const [, complete] = await cli.waitForStderr(COMPLETE_URI);
    await approveDevice(complete!, { login: 'bob' });
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(['claims', 'email', 'expires_at', 'issuer', 'profile', 'scopes', 'subject']);
    expect(doc).toMatchObject({ profile: 'default', issuer: idp.issuer, subject: 'bob', email: 'bob@example.test' });
    expect(result.stderr).not.toContain('No browser here');
  });

  it('Ctrl-C while waiting for the approval: exit 130, nothing cached', async () => {
    const e = sshEnv();
    const cli = startCli(['login'], e);
    await cli.waitForStderr(COMPLETE_URI);
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/authbridge: login interrupted \(SIGINT\)/);
    expect(cached(e)).toBe(false);
  });

  it('at an IdP without a device endpoint: says so, prints the authorize URL and signs in with the pasted redirect', async () => {
    const e = sshEnv(plain);
    const cli = startCli(['login'], e);
    const [url] = await cli.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/);
    const { callbackUrl } = await driveLogin(url!, { stopAtCallback: true });
    cli.child.stdin.write(`${callbackUrl.href}\n`);
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`No browser here (SSH without a display) and ${plain.issuer} offers no device sign-in`);
    expect(cached(e)).toBe(true);
  });

  it('login --device at an IdP without a device endpoint: exit 2 naming what is missing', async () => {
    const e = idpEnv(plain, isolatedEnv());
    const result = await runCli(['login', '--device'], { env: e });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `authbridge: could not start the device sign-in: ${plain.issuer} has no device_authorization_endpoint in its discovery document`,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(cached(e)).toBe(false);
  });

  it('--device with --no-browser: exit 2 naming the conflict', async () => {
    const result = await runCli(['login', '--device', '--no-browser'], { env: idpEnv(idp, isolatedEnv()) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('authbridge: --device and --no-browser do not go together');
  });
});

describe('login with a browser command that opens nothing', () => {
  it('BROWSER=false exits 0 and shows nothing: the URL is printed all the same, and opening it signs in', async () => {
    const e = idpEnv(plain, isolatedEnv(), { BROWSER: 'false' });
    const cli = startCli(['login'], e);
    const [, url] = await cli.waitForStderr(/If the browser does not open, open this URL: (\S+)/);
    await driveLogin(url!);
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    expect(cached(e)).toBe(true);
  });
});
