/**
 * The loopback redirect server of a native app (RFC 8252 §7.3): bound to 127.0.0.1 only, path
 * `/callback`, answering exactly one callback that carries the expected `state`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError, describeError, isAuthbridgeError } from '../errors.js';
import { failurePage, successPage } from './pages.js';

export const CALLBACK_PATH = '/callback';
/** The address listened on, whatever the redirect URI names: never a wider interface. */
const HOST = '127.0.0.1';

/** The host the redirect URI names: `127.0.0.1` (RFC 8252 §7.3's advice) or `localhost`, which some IdPs require. */
export type RedirectHost = '127.0.0.1' | 'localhost';
export const REDIRECT_HOSTS: readonly RedirectHost[] = ['127.0.0.1', 'localhost'];

/**
 * The ports tried, in order, when none is configured: fixed, so that an IdP that matches redirect
 * URIs exactly (Glewlwyd, Cognito, LemonLDAP::NG, many enterprise IdPs) can have them registered
 * (kubelogin's 8000 and 18000); when both are taken a free port is used and the caller warns.
 */
export const DEFAULT_REDIRECT_PORTS: readonly number[] = [8000, 18000];

/** Why a callback was turned away without ending the wait. */
export type RefusedCallback = 'wrong_state' | 'wrong_host' | 'wrong_path' | 'wrong_method' | 'already_done';

interface Waiter<T> {
  state: string;
  handle: (url: URL) => Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export interface WaitOptions {
  /** Aborting (timeout, SIGINT) rejects the wait with the signal's reason. */
  signal?: AbortSignal;
  /** Told about each request turned away (a forged callback, another path…); the wait goes on. */
  onRefused?: (why: RefusedCallback) => void;
}

/** What {@link LoopbackServer.submit} did with a pasted URL. */
export type SubmitOutcome = { accepted: true } | { accepted: false; why: string };

export class LoopbackServer {
  private phase: 'idle' | 'waiting' | 'handling' | 'done' = 'idle';
  private waiter: Waiter<unknown> | undefined;
  private onRefused: ((why: RefusedCallback) => void) | undefined;

  private constructor(
    private readonly server: Server,
    /** The port the server listens on. */
    readonly port: number,
    /** The host the redirect URI names (the server listens on 127.0.0.1 either way). */
    readonly host: RedirectHost = HOST,
  ) {
    server.on('request', (req, res) => void this.onRequest(req, res));
  }

  /**
   * Listens on the first free port of {@link DEFAULT_REDIRECT_PORTS}, else on an ephemeral port
   * (`fellBack` true: the caller says which redirect URI the IdP must then accept).
   * @throws UsageError when even an ephemeral port cannot be had.
   */
  static async listenDefault(host: RedirectHost = HOST): Promise<{ server: LoopbackServer; fellBack: boolean }> {
    for (const port of DEFAULT_REDIRECT_PORTS) {
      const server = await LoopbackServer.listen(port, host).catch(() => undefined);
      if (server) return { server, fellBack: false };
    }
    return { server: await LoopbackServer.listen(0, host), fellBack: true };
  }

  /**
   * Listens on 127.0.0.1:`port` (0: an ephemeral port); the redirect URI names `host`.
   * @throws UsageError when the port is taken or not allowed (a local problem, exit 2).
   */
  static async listen(port = 0, host: RedirectHost = HOST): Promise<LoopbackServer> {
    const server = createServer();
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: HOST, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      const why = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied' : describeError(err);
      throw new UsageError(`could not listen on ${HOST}:${port}: ${why}`, {
        cause: err,
        hint: 'Choose another --port (the IdP must accept that redirect URI), or leave it out for a free port.',
      });
    });
    return new LoopbackServer(server, (server.address() as AddressInfo).port, host);
  }

  /** `http://127.0.0.1:PORT/callback` (or `localhost`), the redirect URI of the authorization request. */
  get redirectUri(): string {
    return `http://${this.host}:${this.port}${CALLBACK_PATH}`;
  }

  /**
   * Waits for the one callback carrying `state` and hands its URL to `handle` (the code exchange);
   * the browser gets the success page if `handle` resolves, the failure page if it throws. A
   * callback with another state gets an error page and the wait goes on.
   */
  waitForCallback<T>(state: string, handle: (url: URL) => Promise<T>, options: WaitOptions = {}): Promise<T> {
    if (this.phase !== 'idle') throw new Error('LoopbackServer.waitForCallback called twice');
    return new Promise<T>((resolve, reject) => {
      const { signal } = options;
      const onAbort = () => {
        if (this.phase === 'waiting') this.phase = 'done';
        reject(signal!.reason);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.onRefused = options.onRefused;
      this.waiter = {
        state,
        handle,
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value as T);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      } as Waiter<unknown>;
      this.phase = 'waiting';
    });
  }

  /**
   * A redirect URL pasted by the user (`--no-browser`), treated as if the browser had requested it.
   * A URL with another state is refused and the wait goes on.
   */
  async submit(pasted: string): Promise<SubmitOutcome> {
    let url: URL;
    try {
      url = new URL(pasted.trim(), this.redirectUri);
    } catch {
      return { accepted: false, why: 'not a URL' };
    }
    if (this.phase !== 'waiting' || !this.waiter) return { accepted: false, why: 'the login is not waiting for a callback' };
    if (url.searchParams.get('state') !== this.waiter.state) return { accepted: false, why: 'its state does not match this login' };
    const callback = new URL(this.redirectUri);
    callback.search = url.search;
    void this.complete(callback).then((outcome) => outcome.settle());
    return { accepted: true };
  }

  /**
   * Runs the handler once. Returns the page for the browser and `settle`, which ends the wait:
   * called once the page is sent, so closing the server never cuts the browser's answer short.
   */
  private async complete(url: URL): Promise<{ status: number; html: string; settle: () => void }> {
    const waiter = this.waiter!;
    this.phase = 'handling';
    try {
      const value = await waiter.handle(url);
      this.phase = 'done';
      return { status: 200, html: successPage(), settle: () => waiter.resolve(value) };
    } catch (err) {
      this.phase = 'done';
      return {
        status: 400,
        html: failurePage(
          err instanceof Error ? err.message : String(err),
          isAuthbridgeError(err) && err.hint ? `What next: ${err.hint} Then run \`authbridge login\` again.` : undefined,
        ),
        settle: () => waiter.reject(err),
      };
    }
  }

  private refuse(res: ServerResponse, why: RefusedCallback, status: number, message: string): void {
    if (this.phase === 'waiting' || this.phase === 'handling') this.onRefused?.(why);
    send(res, status, failurePage(message));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS-rebinding defence: only requests addressed to the redirect URI's host:PORT are answered.
    if (req.headers.host !== `${this.host}:${this.port}`) {
      return this.refuse(res, 'wrong_host', 400, `This server only answers requests to ${this.host}:${this.port}.`);
    }
    const url = new URL(req.url ?? '/', `http://${this.host}:${this.port}`);
    if (url.pathname !== CALLBACK_PATH) return this.refuse(res, 'wrong_path', 404, 'Not found.');
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return this.refuse(res, 'wrong_method', 405, 'Only GET is accepted here.');
    }
    if (this.phase === 'handling' || this.phase === 'done') {
      return this.refuse(res, 'already_done', 409, 'This sign-in has already been answered; nothing more is accepted here.');
    }
    if (this.phase !== 'waiting' || url.searchParams.get('state') !== this.waiter!.state) {
      return this.refuse(
        res,
        'wrong_state',
        400,
        'This response does not belong to the sign-in in progress (state mismatch). The terminal is still waiting; start again from the link it opened.',
      );
    }
    const outcome = await this.complete(url);
    res.once('close', outcome.settle);
    send(res, outcome.status, outcome.html);
  }

  /** Stops listening and drops open connections. Safe to call more than once. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    connection: 'close',
  });
  res.end(html);
}
