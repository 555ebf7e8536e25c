/**
 * The user on the other device, over HTTP: opens oidc-provider's verification URI (with the code
 * in it, or enters the code), confirms or aborts, signs in through devInteractions and consents,
 * keeping cookies as a browser would, until a page with no form is reached.
 */
import { fetchKeepingCookies } from './http-browser.js';

export interface DeviceApproval {
  /** The account to sign in as. Default `alice`. */
  login?: string;
  /** `deny` presses "Abort" on the confirmation page (the device code gets access_denied). Default `approve`. */
  action?: 'approve' | 'deny';
  /** The code to type on the page when `url` does not carry one. */
  userCode?: string;
}

/** The last page's text. */
export async function approveDevice(url: string, behaviour: DeviceApproval = {}): Promise<string> {
  const start = new URL(url);
  const cookies = new Map<string, string>();
  let next = start;
  let init: RequestInit = { method: 'GET' };
  let aborted = false;
  for (let step = 0; step < 30; step++) {
    const response = await fetchKeepingCookies(next, init, cookies, start.origin);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      next = new URL(location, next);
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the IdP answered ${response.status} at ${next.pathname}: ${html.slice(0, 300)}`);
    const form = /<form[^>]*>([\s\S]*?)<\/form>/.exec(html);
    // After "Abort" the IdP shows the code form again: the user walks away.
    if (!form || aborted) return html;
    const action = /action="([^"]*)"/.exec(form[0])?.[1]?.replace(/&amp;/g, '&');
    const fields = new URLSearchParams();
    for (const input of form[1]!.match(/<input[^>]*>/g) ?? []) {
      const name = /name="([^"]*)"/.exec(input)?.[1];
      if (!name) continue;
      const value = /value="([^"]*)"/.exec(input)?.[1]?.replace(/&amp;/g, '&') ?? '';
      if (name === 'login') fields.set(name, behaviour.login ?? 'alice');
      else if (name === 'password') fields.set(name, 'any-password');
      else if (name === 'user_code' && !value) fields.set(name, behaviour.userCode ?? '');
      else fields.set(name, value);
    }
    if (fields.get('confirm') === 'yes' && behaviour.action === 'deny') {
      fields.delete('confirm');
      fields.set('abort', 'yes');
      aborted = true;
    }
    next = new URL(action ?? next.href, next);
    init = { method: 'POST', body: fields, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error('too many steps through the device pages');
}
