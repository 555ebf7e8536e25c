/**
 * A real headless Chromium (Debian's `chromium`) driven by playwright-core, for the one login
 * done wholly in a browser: oidc-provider's devInteractions login and consent pages, then the
 * loopback server's page.
 */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface ChromiumLoginResult {
  /** The URL the browser ended at (the loopback callback). */
  finalUrl: string;
  /** The heading of the page shown there. */
  heading: string;
  status: number | undefined;
}

/**
 * Opens `authorizeUrl` in a fresh context, signs in as `login` and consents, and waits for the
 * loopback server's page.
 */
export async function chromiumLogin(browser: Browser, authorizeUrl: string, login: string): Promise<ChromiumLoginResult> {
  const redirectUri = new URL(authorizeUrl).searchParams.get('redirect_uri')!;
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    let callbackStatus: number | undefined;
    page.on('response', (response) => {
      if (response.url().startsWith(`${redirectUri}?`)) callbackStatus = response.status();
    });
    await page.goto(authorizeUrl);
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', 'any-password');
    await Promise.all([page.waitForURL((url) => url.pathname.startsWith('/interaction/')), page.click('button[type="submit"]')]);
    // Consent (offline_access asks for it).
    await page.waitForSelector('button[type="submit"]');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`)), page.click('button[type="submit"]')]);
    await page.waitForSelector('h1');
    return { finalUrl: page.url(), heading: (await page.textContent('h1')) ?? '', status: callbackStatus };
  } finally {
    await context.close();
  }
}
