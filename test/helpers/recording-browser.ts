/**
 * A browser for in-process flow tests (kubelogin's style): `open` records each URL the flow
 * opens and, unless told otherwise, drives the login over HTTP in this process with
 * {@link driveLogin} — through the IdP's pages to the loopback callback. Hand `open` to
 * `testContext({ browser })`.
 *
 * @example
 * const browser = recordingBrowser({ login: 'bob' });
 * const ctx = testContext({ now: Date.now, browser: browser.open });
 * await loginFlow({ ctx, … });
 * const visit = await browser.visit();          // the DriveResult of the first URL
 * visit.authorizeUrl.searchParams.get('state');
 */
import type { BrowserLauncher } from '../../src/context.js';
import { driveLogin, type DriveResult, type HttpBrowserBehaviour } from './http-browser.js';

export interface RecordingBrowserBehaviour extends HttpBrowserBehaviour {
  /**
   * `drive` (default): follow the URL with {@link driveLogin}. `record`: only record it, as a
   * browser nobody uses (timeouts, interrupts, `--no-browser`). `fail`: record it, then refuse
   * to start (`open` rejects with `failure`), so the flow shows the URL instead.
   */
  mode?: 'drive' | 'record' | 'fail';
  /** The error `open` rejects with in `fail` mode. Default: "no browser on this machine". */
  failure?: Error;
  /** How `drive` mode follows the URL. Default {@link driveLogin} (oidc-provider's pages). */
  drive?: (url: string) => Promise<DriveResult>;
}

export interface RecordingBrowser {
  /** The launcher: records the URL, starts the drive in the background, resolves at once (a browser started). */
  open: BrowserLauncher;
  /** Each URL opened, in order. */
  opened: URL[];
  /** One entry a URL driven, in order: how far the drive got. */
  visits: Array<Promise<DriveResult>>;
  /** The `index`-th drive (default the last one); rejects when there was none. */
  visit(index?: number): Promise<DriveResult>;
}

/**
 * A recording browser with one `behaviour` for every URL, or a behaviour chosen per URL (the
 * `index`-th URL opened, from 0).
 */
export function recordingBrowser(
  behaviour: RecordingBrowserBehaviour | ((url: URL, index: number) => RecordingBrowserBehaviour) = {},
): RecordingBrowser {
  const opened: URL[] = [];
  const visits: Array<Promise<DriveResult>> = [];
  return {
    opened,
    visits,
    open: async (url) => {
      const parsed = new URL(url);
      const chosen = typeof behaviour === 'function' ? behaviour(parsed, opened.length) : behaviour;
      opened.push(parsed);
      const mode = chosen.mode ?? 'drive';
      if (mode === 'fail') throw chosen.failure ?? new Error('no browser on this machine');
      if (mode === 'record') return;
      // A real browser outlives the call that started it: the drive goes on in the background.
      const drive = chosen.drive ? chosen.drive(url) : driveLogin(url, chosen);
      drive.catch(() => {});
      visits.push(drive);
    },
    visit(index) {
      const visit = visits.at(index ?? -1);
      return visit ?? Promise.reject(new Error(`no drive at index ${index ?? -1} (${visits.length} URLs driven)`));
    },
  };
}
