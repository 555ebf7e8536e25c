/**
 * `introspectFlow` in process: oidc-provider (the demo's IdP) answers `active: false` for the JWT
 * access tokens it issues; the user is told so and pointed at `verify --type access`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthRefusedError, type AuthbridgeError } from '../../src/errors.js';
import { introspectFlow } from '../../src/flows/introspect.js';
import { idpProfile, liveContext, signIn, tempCache } from '../helpers/flows.js';
import { API_RESOURCE, startIdp, type Idp } from '../helpers/idp.js';

let jwtIdp: Idp;
beforeAll(async () => {
  jwtIdp = await startIdp({ defaultResource: API_RESOURCE });
});
afterAll(async () => {
  await jwtIdp?.close();
});

describe('introspect', () => {
  it('a JWT access token at the demo\'s IdP: its refusal (exit 5) names the endpoint and points at verify --type access', async () => {
    const cached = tempCache();
    await signIn({ idp: jwtIdp, cache: cached.cache });
    const err = (await introspectFlow({ ctx: liveContext(), profile: idpProfile(jwtIdp), cache: cached.cache }).catch((e: unknown) => e)) as AuthbridgeError;
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      'could not introspect the token: unsupported_token_type: Structured JWT Tokens cannot be introspected via the introspection_endpoint (HTTP 400 at the introspection endpoint)',
    );
    expect(err.hint).toBe('This IdP does not introspect the JWT access tokens it issues: check it locally with `authbridge verify --type access`.');
  });
});
