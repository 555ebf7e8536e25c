/**
 * The one metadata fetch: an OpenID Connect discovery document or an RFC 8414 authorization
 * server metadata document, checked to name the issuer it was asked for and to carry the
 * endpoints its caller uses. No openid-client here: `verify` finds its keys through this module
 * without loading the adapter.
 */
import { RemoteError, UsageError } from '../errors.js';
import { fitsTenantTemplate, issuerInputProblem, issuerMismatchFix } from './urls.js';
import { fetchJson } from '../http/fetch-json.js';
import { judgeTransport } from '../http/loopback.js';

/** The endpoints of an IdP's discovery document that authbridge may call or open. */
export const IDP_ENDPOINTS = [
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'userinfo_endpoint',
  'introspection_endpoint',
  'revocation_endpoint',
  'device_authorization_endpoint',
] as const;

/** The endpoints of a broker's RFC 8414 metadata that authbridge calls. */
export const BROKER_ENDPOINTS = ['token_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint'] as const;

/**
 * What is wrong with the first of `fields` in `doc` (a string, when present) that breaks the one
 * transport rule (https, or http on loopback; `http/loopback.ts`): `its <field> is not an http(s)
 * URL: "<value>"` or `its <field> is plain http to a host other than this machine …`. Undefined
 * when all are fine or absent.
 */
export function endpointProblem(doc: Record<string, unknown>, fields: readonly string[]): string | undefined {
  for (const field of fields) {
    const value = doc[field];
    if (typeof value !== 'string') continue;
    const verdict = judgeTransport(value);
    if (verdict === 'not-http') return `its ${field} is not an http(s) URL: "${value}"`;
    if (verdict === 'plain-http') {
      return `its ${field} is plain http to a host other than this machine (https is required; http only on 127.0.0.1/localhost): "${value}"`;
    }
  }
  return undefined;
}

/** A metadata document: a JSON object whose `issuer` has been checked. */
export type ServerMetadataDocument = Record<string, unknown> & { issuer: string };

/**
 * How the document's `issuer` is compared with the expected one:
 * - `exact`: character for character (OpenID Connect Discovery §4.3);
 * - `ignore-trailing-slash`: equal once one trailing slash is removed from each (the broker's
 *   RFC 8414 §3.3 check, which takes the base URL as the user typed it).
 */
export type IssuerMatch = 'exact' | 'ignore-trailing-slash';

export interface FetchMetadataOptions {
  /** The issuer the document must name. */
  issuer: string;
  /** Default `exact`. */
  issuerMatch?: IssuerMatch;
  /** What is fetched, for messages: `the discovery document`, `the broker metadata`. */
  what: string;
  /** Whose document it is, for `could not use <what> of <subject>: …`. Default `issuer`. */
  subject?: string;
  /** The hint given when the document names another issuer (what the user should change). */
  issuerHint?: string;
  /**
   * The issuer was configured by the user (an IdP's, not a broker URL): a document naming
   * another one, or an issuer typed as the discovery URL, is a configuration error (UsageError,
   * exit 2) with the exact fix, the same in login, verify and doctor.
   */
  configuredIssuer?: boolean;
  /** Fields that must be strings: `it has no <field>` otherwise. */
  required?: readonly string[];
  /** Fields that must be strings when present: `<field> is not a string` otherwise. */
  optional?: readonly string[];
  /**
   * Endpoint fields that, when present, must be https URLs (http only on loopback): a server that
   * names `javascript:…` or plain http elsewhere is refused before anything calls or opens it.
   */
  endpoints?: readonly string[];
  /** Milliseconds for the whole request. Default fetchJson's, 10 000. */
  timeoutMs?: number;
}

const withoutTrailingSlash = (value: string): string => value.replace(/\/$/, '');

/**
 * GETs a metadata document with `fetchImpl` (traced already, for `--verbose`) through
 * {@link fetchJson} (time limit, size limit, same-origin redirects only) and checks that it
 * names `options.issuer` and that the endpoint fields its caller uses are strings.
 *
 * @example
 * const doc = await fetchMetadata(fetch, discoveryUrl(issuer), { issuer, what: 'the discovery document', required: ['jwks_uri'] });
 *
 * @throws RemoteError `could not fetch <what> from <url>: …` when the document cannot be had
 *   (unreachable, timed out, 4xx/5xx, not a JSON object); `could not use <what> of <subject>: …`
 *   when it names another issuer, lacks a required field, has a field that is not a string, or
 *   an endpoint that is not https (http only on loopback; see {@link endpointProblem}).
 */
export async function fetchMetadata(
  fetchImpl: typeof fetch,
  url: string,
  options: FetchMetadataOptions,
): Promise<ServerMetadataDocument> {
  const { issuer, what } = options;
  const subject = options.subject ?? issuer;
  if (options.configuredIssuer) {
    const problem = issuerInputProblem(issuer);
    if (problem) throw new UsageError(problem.message, { hint: issuerMismatchFix(issuer, problem.issuer) });
  }
  const doc = await fetchJson(fetchImpl, url, { what, timeoutMs: options.timeoutMs });
  const named = doc.issuer;
  const matches =
    typeof named === 'string' &&
    ((options.issuerMatch === 'ignore-trailing-slash' ? withoutTrailingSlash(named) === withoutTrailingSlash(issuer) : named === issuer) ||
      // Entra ID's multi-tenant document (`…/common/v2.0` names `…/{tenantid}/v2.0`).
      (options.configuredIssuer === true && fitsTenantTemplate(issuer, named)));
  if (!matches) {
    const message = `could not use ${what} of ${subject}: it names the issuer "${String(named)}"`;
    if (options.configuredIssuer) throw new UsageError(message, { hint: issuerMismatchFix(issuer, named) });
    throw new RemoteError(message, { hint: options.issuerHint });
  }
  for (const field of options.required ?? []) {
    if (typeof doc[field] !== 'string') throw new RemoteError(`could not use ${what} of ${subject}: it has no ${field}`);
  }
  for (const field of options.optional ?? []) {
    if (doc[field] !== undefined && typeof doc[field] !== 'string') {
      throw new RemoteError(`could not use ${what} of ${subject}: ${field} is not a string`);
    }
  }
  const problem = endpointProblem(doc, options.endpoints ?? []);
  if (problem) throw new RemoteError(`could not use ${what} of ${subject}: ${problem}`);
  return doc as ServerMetadataDocument;
}
