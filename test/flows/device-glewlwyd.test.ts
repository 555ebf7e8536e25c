/**
 * The device flow against a second, independent OpenID provider: Glewlwyd (Debian's C
 * implementation, test/helpers/glewlwyd.ts) with its device authorization grant on and a 2 s
 * interval. The user approves through Glewlwyd's own API, as its login app does. Glewlwyd
 * enforces the interval itself (`slow_down` to a poll sooner than 2 s after the last), so the
 * slow_down case here is the real server's, not a fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCOPES, type Profile } from '../../src/config/types.js';
import { deviceLoginFlow, type DevicePrompt } from '../../src/flows/device.js';
import { verifyToken } from '../../src/index.js';
import { liveContext, recordingTalk, recordingTrace, tempCache } from '../helpers/flows.js';
import { GLEWLWYD_CONFIDENTIAL_CLIENT, GLEWLWYD_PUBLIC_CLIENT, GLEWLWYD_USER, freePort, startGlewlwyd, type Glewlwyd } from '../helpers/glewlwyd.js';

const INTERVAL_S = 2;
let glewlwyd: Glewlwyd;
beforeAll(async () => {
  const port = await freePort();
  glewlwyd = await startGlewlwyd({ redirectUris: [`http://127.0.0.1:${port}/callback`], device: { interval: INTERVAL_S } });
}, 30_000);
afterAll(async () => {
  await glewlwyd?.close();
});

type Client = { clientId: string; clientSecret?: string };

function profileFor(client: Client): Profile {
  // The default scopes, as a user who configured none: Glewlwyd does not list offline_access.
  return { name: 'default', issuer: glewlwyd.issuer, ...client, scopes: [...DEFAULT_SCOPES] };
}

const SCOPE = 'openid profile email';

describe.each([
  ['the public client', GLEWLWYD_PUBLIC_CLIENT as Client],
  ['a confidential client whose id and secret hold - and .', GLEWLWYD_CONFIDENTIAL_CLIENT as Client],
])('Glewlwyd, %s', (_name, client) => {
  it('signs in with the device flow: the codes shown, approved at Glewlwyd, the ID token verified, the entry cached', async () => {
    const cached = tempCache();
    const prompts: DevicePrompt[] = [];
    const approvals: string[] = [];
    const trace = recordingTrace();
    const result = await deviceLoginFlow({
      ctx: liveContext(),
      profile: profileFor(client),
      cache: cached.cache,
      trace: trace.trace,
      talk: {
        ...recordingTalk().talk,
        async showCode(prompt) {
          prompts.push(prompt);
          approvals.push(await glewlwyd.approveDevice(prompt.userCode, client.clientId, SCOPE));
        },
      },
    });
    expect(approvals).toEqual(['deviceComplete']);
    expect(prompts[0]).toMatchObject({ verificationUri: `${glewlwyd.issuer}/device`, expiresIn: 600 });
    expect(prompts[0]!.userCode).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(prompts[0]!.verificationUriComplete).toBe(`${glewlwyd.issuer}/device?code=${prompts[0]!.userCode}`);
    expect(trace.lines).toContain(`device authorization: the code lives 600 s; polling every ${INTERVAL_S} s`);
    expect(result.claims).toMatchObject({ iss: glewlwyd.issuer, aud: client.clientId });
    expect(result.session).toMatchObject({ issuer: glewlwyd.issuer, client_id: client.clientId, email: GLEWLWYD_USER.email });
    expect(cached.read()).toEqual(result.session);
    const id = await verifyToken(result.session.id_token!, { issuer: glewlwyd.issuer, audience: client.clientId, type: 'id' });
    expect(id.valid).toBe(true);
  });
});

describe('Glewlwyd polled too soon', () => {
  it('answers slow_down, and the next wait is 5 s longer (RFC 8628 §3.5)', async () => {
    const cached = tempCache();
    let prompt: DevicePrompt | undefined;
    const waits: number[] = [];
    const trace = recordingTrace();
    const result = await deviceLoginFlow({
      ctx: liveContext(),
      profile: profileFor(GLEWLWYD_PUBLIC_CLIENT),
      cache: cached.cache,
      trace: trace.trace,
      talk: { ...recordingTalk().talk, showCode: (p) => void (prompt = p) },
      // The first two polls go at once: the first is Glewlwyd's first check (pending), the second
      // comes too soon after it. Before the third the user approves and a real interval passes,
      // so Glewlwyd answers with the tokens.
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length < 3) return;
        await glewlwyd.approveDevice(prompt!.userCode, GLEWLWYD_PUBLIC_CLIENT.clientId, SCOPE);
        await new Promise((resolve) => setTimeout(resolve, (INTERVAL_S + 0.2) * 1000));
      },
    });
    expect(waits).toEqual([INTERVAL_S * 1000, INTERVAL_S * 1000, (INTERVAL_S + 5) * 1000]);
    expect(trace.lines).toContain(`the IdP asked to slow down: polling every ${INTERVAL_S + 5} s`);
    expect(cached.read()).toEqual(result.session);
  });
});
