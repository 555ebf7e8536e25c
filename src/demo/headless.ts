/**
 * The "browser" of `demo --headless`: an HTTP driver that follows the authorize URL through the
 * demo IdP's pages, keeps its cookies, fills in the sign-in form with the demo user, allows the
 * consent, and finally requests the loopback callback, as a person in a browser would.
 */
import { DEMO_PASSWORD, DEMO_USER } from './idp.js';

export interface HeadlessLoginOptions {
  fetch: typeof fetch;
  /** Default the demo user. */
  login?: string;
  password?: string;
  /** A line for each page visited (`--verbose`). */
  trace?: (line: string) => void;
}

/** Where the headless browser ended: the loopback server's answer to the callback. */
export interface HeadlessLoginResult {
  callbackStatus: number;
  /** The pages it went through, as `METHOD path → status`. */
  visited: string[];
}

const MAX_STEPS = 20;

function attribute(tag: string, name: string): string | undefined {
  return new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag)?.[1]?.replace(/&amp;/g, '&');
}

/** The first form on the page, with its fields filled in as the demo user. */
function submitForm(html: string, base: URL, credentials: { login: string; password: string }): { url: URL; body: URLSearchParams } | undefined {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const fields = new URLSearchParams();
  for (const input of form[2]!.match(/<input\b[^>]*>/gi) ?? []) {
    const name = attribute(input, 'name');
    if (!name) continue;
    if (name === 'login') fields.set(name, credentials.login);
    else if (name === 'password') fields.set(name, credentials.password);
    else fields.set(name, attribute(input, 'value') ?? '');
  }
  return { url: new URL(attribute(form[1]!, 'action') ?? base.href, base), body: fields };
}

/**
 * Signs in at the IdP behind `authorizeUrl` and delivers the code to the redirect URI.
 * @throws Error naming the page where it got stuck (no form, an error status, too many steps).
 */
export async function headlessLogin(authorizeUrl: string, options: HeadlessLoginOptions): Promise<HeadlessLoginResult> {
  const start = new URL(authorizeUrl);
  const redirectUri = start.searchParams.get('redirect_uri');
  if (!redirectUri) throw new Error('the authorize URL has no redirect_uri');
  const credentials = { login: options.login ?? DEMO_USER, password: options.password ?? DEMO_PASSWORD };
  const cookies = new Map<string, string>();
  const visited: string[] = [];
  let url = start;
  let init: RequestInit = { method: 'GET' };
  for (let step = 0; step < MAX_STEPS; step++) {
    const headers = new Headers(init.headers);
    if (url.origin === start.origin && cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await options.fetch(url, { ...init, headers, redirect: 'manual' });
    const method = init.method ?? 'GET';
    visited.push(`${method} ${url.pathname} → ${response.status}`);
    options.trace?.(`headless browser: ${method} ${url.origin}${url.pathname} → ${response.status}`);
    if (url.href.startsWith(`${redirectUri}?`)) {
      await response.body?.cancel();
      return { callbackStatus: response.status, visited };
    }
    if (url.origin === start.origin) {
      for (const line of response.headers.getSetCookie()) {
        const pair = line.split(';')[0]!;
        const eq = pair.indexOf('=');
        if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url);
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the IdP answered ${response.status} at ${url.pathname}`);
    const next = submitForm(html, url, credentials);
    if (!next) throw new Error(`found no form to submit at ${url.pathname}`);
    url = next.url;
    init = { method: 'POST', body: next.body, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error(`gave up after ${MAX_STEPS} pages without reaching ${redirectUri}`);
}
