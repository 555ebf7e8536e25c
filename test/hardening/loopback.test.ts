/**
 * The loopback redirect server from the outside, beyond test/loopback and test/e2e/login: two
 * logins at once get two ports, it listens on 127.0.0.1 only, and SIGTERM closes it like SIGINT.
 */
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv } from '../helpers/cli.js';
import { driveLogin, startCli, statusWithHost } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.close();
});

/** Resolves true when something accepts a TCP connection on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the loopback server of concurrent logins', () => {
  it('two logins at once listen on two 127.0.0.1 ports; one completes, SIGTERM ends the other with its port closed and nothing cached', async () => {
    const env = idpEnv(idp, isolatedEnv());
    const first = startCli(['login', '--no-browser', '--profile', 'one'], env);
    const second = startCli(['login', '--no-browser', '--profile', 'two'], env);
    const [urlOne] = await first.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/);
    const [urlTwo] = await second.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/);
    const portOf = (url: string) => Number(new URL(new URL(url).searchParams.get('redirect_uri')!).port);
    const [portOne, portTwo] = [portOf(urlOne), portOf(urlTwo)];
    expect(portOne).not.toBe(portTwo);

    // Only 127.0.0.1: not another address of this machine, not ::1.
    expect(await accepts('127.0.0.1', portTwo)).toBe(true);
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && a.family === 'IPv4')
      .map((a) => a!.address);
    for (const address of [...others, '::1']) expect(await accepts(address, portTwo), address).toBe(false);
    // DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends its own Host.
    expect(await statusWithHost(`http://127.0.0.1:${portTwo}/callback?state=x&code=y`, `evil.example:${portTwo}`)).toBe(400);
    expect(await statusWithHost(`http://127.0.0.1:${portTwo}/callback?state=x&code=y`, `localhost:${portTwo}`)).toBe(400);

    await driveLogin(urlOne);
    const one = await first.done;
    expect(one.code, one.stderr).toBe(0);

    second.child.kill('SIGTERM');
    const two = await second.done;
    expect(two.code).toBe(130);
    expect(two.stderr).toMatch(/^authbridge: login interrupted \(SIGTERM\)$/m);
    expect(two.stderr).not.toMatch(/\n\s+at /);
    expect(await accepts('127.0.0.1', portTwo)).toBe(false);
    expect(await accepts('127.0.0.1', portOne)).toBe(false);

    const cache = join(env.XDG_CACHE_HOME!, 'authbridge');
    expect(existsSync(join(cache, 'one.json'))).toBe(true);
    expect(existsSync(join(cache, 'two.json'))).toBe(false);
  });
});
