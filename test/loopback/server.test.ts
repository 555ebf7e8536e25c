import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorizationRefusedError, UsageError } from '../../src/errors.js';
import { DEFAULT_REDIRECT_PORTS, LoopbackServer, type RefusedCallback } from '../../src/loopback/server.js';

function get(port: number, path: string, host = `127.0.0.1:${port}`, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const servers: LoopbackServer[] = [];
async function listen(port = 0): Promise<LoopbackServer> {
  const server = await LoopbackServer.listen(port);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('LoopbackServer', () => {
  it('listens on 127.0.0.1 with an ephemeral port and a /callback redirect URI', async () => {
    const server = await listen();
    expect(server.port).toBeGreaterThan(0);
    expect(server.redirectUri).toBe(`http://127.0.0.1:${server.port}/callback`);
  });

  it.each<[string, (port: number) => [string, string?, string?], number, RefusedCallback]>([
    ['another path', () => ['/other?state=s1&code=c'], 404, 'wrong_path'],
    ['the root', () => ['/'], 404, 'wrong_path'],
    ['a wrong state', () => ['/callback?state=forged&code=c'], 400, 'wrong_state'],
    ['no state', () => ['/callback?code=c'], 400, 'wrong_state'],
    ['a foreign Host header', (port) => ['/callback?state=s1&code=c', `localhost:${port}`], 400, 'wrong_host'],
    ['a POST', (port) => ['/callback?state=s1&code=c', `127.0.0.1:${port}`, 'POST'], 405, 'wrong_method'],
  ])('refuses %s and keeps waiting for the real callback', async (_name, make, status, why) => {
    const server = await listen();
    const refused: RefusedCallback[] = [];
    const seen: string[] = [];
    const wait = server.waitForCallback('s1', async (url) => {
      seen.push(url.searchParams.get('code')!);
      return 'tokens';
    }, { onRefused: (w) => refused.push(w) });
    const [path, host, method] = make(server.port);
    const bad = await get(server.port, path, host, method);
    expect(bad.status).toBe(status);
    expect(refused).toEqual([why]);
    const good = await get(server.port, '/callback?state=s1&code=real');
    expect(good.status).toBe(200);
    expect(good.body).toContain('Signed in');
    await expect(wait).resolves.toBe('tokens');
    expect(seen).toEqual(['real']);
  });

  it('answers exactly one callback: a second one after success is refused', async () => {
    const server = await listen();
    const wait = server.waitForCallback('s1', async () => 1);
    expect((await get(server.port, '/callback?state=s1&code=a')).status).toBe(200);
    await wait;
    const again = await get(server.port, '/callback?state=s1&code=a');
    expect(again.status).toBe(409);
    expect(again.body).toContain('already been answered');
  });

  it('shows the failure page and rejects when the handler fails (error=access_denied)', async () => {
    const server = await listen();
    const wait = server.waitForCallback('s1', async (url) => {
      throw new AuthorizationRefusedError(`could not sign in: ${url.searchParams.get('error')}`);
    });
    wait.catch(() => {});
    const page = await get(server.port, '/callback?state=s1&error=access_denied');
    expect(page.status).toBe(400);
    expect(page.body).toContain('could not sign in: access_denied');
    await expect(wait).rejects.toBeInstanceOf(AuthorizationRefusedError);
  });

  it('escapes the error message in the failure page', async () => {
    const server = await listen();
    const wait = server.waitForCallback('s1', async () => {
      throw new Error('<script>alert(1)</script>');
    });
    wait.catch(() => {});
    const page = await get(server.port, '/callback?state=s1');
    expect(page.body).not.toContain('<script>');
    expect(page.body).toContain('&#60;script&#62;');
  });

  it('stops waiting when the signal aborts (timeout, SIGINT)', async () => {
    const server = await listen();
    const controller = new AbortController();
    const wait = server.waitForCallback('s1', async () => 1, { signal: controller.signal });
    controller.abort(new AuthorizationRefusedError('could not sign in: nobody came back'));
    await expect(wait).rejects.toThrow('nobody came back');
    await server.close();
    await expect(get(server.port, '/callback?state=s1')).rejects.toThrow();
  });

  it('accepts a pasted redirect URL with the right state, refuses one with another', async () => {
    const server = await listen();
    const wait = server.waitForCallback('s1', async (url) => url.searchParams.get('code'));
    expect(await server.submit('not a url at all ::')).toMatchObject({ accepted: false });
    expect(await server.submit(`http://127.0.0.1:${server.port}/callback?state=forged&code=x`)).toEqual({
      accepted: false,
      why: 'its state does not match this login',
    });
    expect(await server.submit(`  http://127.0.0.1:${server.port}/callback?state=s1&code=pasted \n`)).toEqual({ accepted: true });
    await expect(wait).resolves.toBe('pasted');
  });

  it('reports a taken port as a usage error (exit 2) naming the port', async () => {
    const first = await listen();
    const err = await LoopbackServer.listen(first.port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(`could not listen on 127.0.0.1:${first.port}: the port is already in use`);
    expect((err as UsageError).exitCode).toBe(2);
  });
});

describe('the default redirect ports', () => {
  /** Holds `port` for the test when it is free (someone else holding it serves as well). */
  async function occupy(port: number): Promise<LoopbackServer | undefined> {
    return LoopbackServer.listen(port).catch(() => undefined);
  }

  it('8000, else 18000, else a free port (fellBack: the caller warns); the redirect URI names the chosen host', async () => {
    const held = (await Promise.all(DEFAULT_REDIRECT_PORTS.map(occupy))).filter((s): s is LoopbackServer => s !== undefined);
    servers.push(...held);
    const { server, fellBack } = await LoopbackServer.listenDefault('localhost');
    servers.push(server);
    expect(fellBack).toBe(true);
    expect(DEFAULT_REDIRECT_PORTS).not.toContain(server.port);
    expect(server.redirectUri).toBe(`http://localhost:${server.port}/callback`);
    // The server listens on 127.0.0.1 and answers requests addressed to localhost:PORT only.
    expect((await get(server.port, '/callback?state=x', `localhost:${server.port}`)).body).toContain('state mismatch');
    expect((await get(server.port, '/callback?state=x', `127.0.0.1:${server.port}`)).body).toContain('only answers requests to localhost:');
  });
});
