/**
 * The protocol's names, built in one place: well-known metadata URLs and the OAuth URNs that the
 * CLI sends and the broker accepts. Plain constants (no openid-client), so the broker, `doctor`
 * and the key sets use them without loading the adapter.
 */

/** RFC 8693 §2.1: the token-exchange grant. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693 §3: token type identifiers. */
export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

/** The short subject token types the CLI takes (`--subject-token-type`). */
export type ShortTokenType = 'access_token' | 'id_token' | 'jwt';

/** `urn:authbridge:token-type:<providerId>`: a subject token type that names a broker provider. */
export const PROVIDER_TOKEN_TYPE_PREFIX = 'urn:authbridge:token-type:';

/** `access_token` → its URN; a full URI (anything with a `:`) is kept as it is. */
export function tokenTypeUrn(type: string): string {
  return type.includes(':') ? type : `urn:ietf:params:oauth:token-type:${type}`;
}

/**
 * What is wrong with an issuer as typed, before anything is fetched: the discovery document's own
 * URL given as the issuer. The fix names the exact issuer to use. Undefined when it looks right.
 */
export function issuerInputProblem(issuer: string): { message: string; issuer: string } | undefined {
  const at = issuer.indexOf('/.well-known/');
  if (at < 0) return undefined;
  const meant = issuer.slice(0, at) || issuer;
  return { message: `the issuer "${issuer}" is a discovery document's URL, not an issuer`, issuer: meant };
}

/** Microsoft Entra ID's login host: its multi-tenant documents name `…/{tenantid}/v2.0`. */
export const ENTRA_ORIGIN = 'https://login.microsoftonline.com';

/**
 * Whether `named`, an Entra ID multi-tenant template (`https://login.microsoftonline.com/{tenantid}/v2.0`),
 * fits the configured issuer (`…/common/v2.0`, `…/organizations/v2.0`): each token's issuer is
 * then the template with its `tid` claim.
 */
export function fitsTenantTemplate(configured: string, named: unknown): named is string {
  if (typeof named !== 'string' || !named.includes('{tenantid}') || !URL.canParse(configured)) return false;
  if (new URL(configured).origin !== ENTRA_ORIGIN || new URL(named.replace('{tenantid}', 't')).origin !== ENTRA_ORIGIN) return false;
  const pattern = named.split('{tenantid}').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+');
  return new RegExp(`^${pattern}$`).test(configured);
}

/** The issuer of a token: the Entra ID template with its `tid`, else `issuer` as it is. */
export function tokenIssuer(issuer: string, claims: Record<string, unknown>): string {
  return issuer.includes('{tenantid}') && typeof claims.tid === 'string' ? issuer.replace('{tenantid}', claims.tid) : issuer;
}

/**
 * When a discovery document names `named` where `expected` was configured: the exact fix, or why
 * none fits. Entra ID's multi-tenant documents (`…/common/v2.0`) name the template
 * `…/{tenantid}/v2.0`, which no token carries: the tenant's own issuer is what to configure.
 */
export function issuerMismatchFix(expected: string, named: unknown): string {
  if (typeof named !== 'string') return "The issuer must be the provider's exactly (scheme, host, path, trailing slash).";
  if (named.includes('{tenantid}')) {
    return `This is Entra ID's multi-tenant document: set the issuer to your tenant's, ${named.replace('{tenantid}', '<tenant id>')} (the tid claim of your tokens; --issuer, AUTHBRIDGE_ISSUER or \`authbridge config set issuer …\`).`;
  }
  return `Set the issuer to "${named}" exactly${base(named) === base(expected) ? ' (the trailing slash matters)' : ''}: --issuer, AUTHBRIDGE_ISSUER or \`authbridge config set issuer ${named}\`.`;
}

function base(issuer: string): string {
  return issuer.replace(/\/$/, '');
}

/** OpenID Connect Discovery §4: `<issuer>/.well-known/openid-configuration`. */
export function discoveryUrl(issuer: string): string {
  return `${base(issuer)}/.well-known/openid-configuration`;
}

/** RFC 8414 §3 (as the broker serves it): `<issuer>/.well-known/oauth-authorization-server`. */
export function authorizationServerMetadataUrl(issuer: string): string {
  return `${base(issuer)}/.well-known/oauth-authorization-server`;
}
