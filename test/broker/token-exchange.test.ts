/** RFC 8693 §2.1 request checks, apart from HTTP: one row a request, what it reads or refuses. */
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/broker/oauth-error.js';
import { readTokenExchangeRequest } from '../../src/broker/protocol/token-exchange.js';
import { FormParams } from '../../src/broker/shared/form.js';

const AUDIENCE = 'my-app';
const GRANT = 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange';
const ACCESS = 'urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token';
const SUBJECT = `subject_token=tok&subject_token_type=${ACCESS}`;
const OK = `${GRANT}&${SUBJECT}`;

const accepted: Array<[string, string, { subjectToken: string; subjectTokenType: string }]> = [
  ['the minimal request', OK, { subjectToken: 'tok', subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token' }],
  ['a custom subject token type, as sent', `${GRANT}&subject_token=t&subject_token_type=urn%3Aauthbridge%3Atoken-type%3Abackend`, {
    subjectToken: 't',
    subjectTokenType: 'urn:authbridge:token-type:backend',
  }],
  ['requested_token_type access_token', `${OK}&requested_token_type=${ACCESS}`, { subjectToken: 'tok', subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token' }],
  ['requested_token_type jwt', `${OK}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt`, {
    subjectToken: 'tok',
    subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
  }],
  ['its own audience, twice, and as a resource', `${OK}&audience=my-app&audience=my-app&resource=my-app`, {
    subjectToken: 'tok',
    subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
  }],
  ['empty values count as absent', `${OK}&audience=&actor_token=&requested_token_type=&scope=`, {
    subjectToken: 'tok',
    subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
  }],
  ['a scope, ignored', `${OK}&scope=openid`, { subjectToken: 'tok', subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token' }],
];

const refused: Array<[string, string, string, string]> = [
  ['no grant_type', SUBJECT, 'invalid_request', 'grant_type is missing'],
  ['an empty grant_type', `grant_type=&${SUBJECT}`, 'invalid_request', 'grant_type is missing'],
  ['another grant', `grant_type=client_credentials&${SUBJECT}`, 'unsupported_grant_type', 'only urn:ietf:params:oauth:grant-type:token-exchange is supported'],
  ['grant_type twice', `${GRANT}&${GRANT}&${SUBJECT}`, 'invalid_request', 'grant_type is given more than once'],
  ['no subject_token', `${GRANT}&subject_token_type=${ACCESS}`, 'invalid_request', 'subject_token is missing'],
  ['no subject_token_type', `${GRANT}&subject_token=tok`, 'invalid_request', 'subject_token_type is missing'],
  // Both are read before either is judged: a repeated type wins over a missing token.
  ['subject_token_type twice, no subject_token', `${GRANT}&subject_token_type=${ACCESS}&subject_token_type=${ACCESS}`, 'invalid_request', 'subject_token_type is given more than once'],
  ['subject_token twice', `${OK}&subject_token=other`, 'invalid_request', 'subject_token is given more than once'],
  ['an actor_token', `${OK}&actor_token=act`, 'invalid_request', 'actor_token is not supported'],
  ['an actor_token_type', `${OK}&actor_token_type=${ACCESS}`, 'invalid_request', 'actor_token is not supported'],
  ['requested_token_type id_token', `${OK}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token`, 'invalid_request', 'requested_token_type must be an access token'],
  ['another audience', `${OK}&audience=other-app`, 'invalid_target', 'this broker issues tokens only for its own audience'],
  ['its audience and another', `${OK}&audience=my-app&audience=other-app`, 'invalid_target', 'this broker issues tokens only for its own audience'],
  ['another resource', `${OK}&resource=https%3A%2F%2Fapi.example%2F`, 'invalid_target', 'this broker issues tokens only for its own audience'],
  ['scope twice', `${OK}&scope=a&scope=b`, 'invalid_request', 'scope is given more than once'],
  // The order of the checks: a bad grant is reported before a missing subject token.
  ['another grant and nothing else', 'grant_type=password', 'unsupported_grant_type', 'only urn:ietf:params:oauth:grant-type:token-exchange is supported'],
  ['an actor token and another audience', `${OK}&actor_token=act&audience=other-app`, 'invalid_request', 'actor_token is not supported'],
];

describe('readTokenExchangeRequest', () => {
  it.each(accepted)('accepts %s', (_name, body, expected) => {
    expect(readTokenExchangeRequest(new FormParams(body), AUDIENCE)).toEqual(expected);
  });

  it.each(refused)('refuses %s', (_name, body, error, description) => {
    let thrown: unknown;
    try {
      readTokenExchangeRequest(new FormParams(body), AUDIENCE);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(OAuthError);
    const e = thrown as OAuthError;
    expect({ status: e.status, ...e.body() }).toEqual({ status: 400, error, error_description: description });
  });
});
