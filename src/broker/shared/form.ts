/** Form bodies (application/x-www-form-urlencoded) and the parameters every form endpoint reads. */
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../oauth-error.js';

/** A form body (application/x-www-form-urlencoded), every value of every name kept. */
export class FormParams {
  private readonly values = new Map<string, string[]>();

  constructor(text: string) {
    for (const [name, value] of new URLSearchParams(text)) {
      const list = this.values.get(name);
      if (list) list.push(value);
      else this.values.set(name, [value]);
    }
  }

  /**
   * The one value of `name`; an empty value counts as absent (RFC 6749 §3.1).
   * @throws OAuthError invalid_request when it is given more than once.
   */
  one(name: string): string | undefined {
    const list = this.values.get(name);
    if (!list) return undefined;
    if (list.length > 1) throw invalidRequest(`${name} is given more than once`);
    return list[0] === '' ? undefined : list[0];
  }

  /** Every non-empty value of a repeatable parameter (RFC 8693 `audience`, `resource`). */
  all(name: string): string[] {
    return (this.values.get(name) ?? []).filter((v) => v !== '');
  }
}

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/**
 * The request's form body, as the content-type parser left it.
 * @throws OAuthError invalid_request when the body is not a form.
 */
export function parseForm(request: FastifyRequest): FormParams {
  if (!FORM_TYPE.test(request.headers['content-type'] ?? '') || !(request.body instanceof FormParams)) {
    throw invalidRequest('the body must be application/x-www-form-urlencoded');
  }
  return request.body;
}

/**
 * RFC 7009 §2.1 / RFC 7662 §2.1: `token`, required; `token_type_hint`, optional and at most once.
 * @throws OAuthError invalid_request when `token` is missing or either is given twice.
 */
export function readTokenParam(params: FormParams): string {
  const token = params.one('token');
  if (!token) throw invalidRequest('token is missing');
  params.one('token_type_hint');
  return token;
}
