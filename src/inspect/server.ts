/**
 * `authbridge inspect`'s web server: the local jwt.io. Bound to 127.0.0.1 on a port the system
 * picks, it answers only under a path secret made for this run (`/<secret>/`), only to requests
 * whose Host is its own address (no DNS rebinding), and sends every page with a CSP that allows
 * no script, no external asset and no form target but itself: a pasted token goes nowhere else.
 * It closes when asked (Ctrl-C) or after `idleSeconds` without a request.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOST = '127.0.0.1';
/** The most a pasted form may be: a token, with room for a whole redirect URL or header. */
const MAX_FORM_BYTES = 1024 * 1024;

/** What the page is made from: a token (or none), and the nonce its one `<style>` carries. */
export type RenderPage = (input: { token: string | undefined; nonce: string; action: string }) => Promise<string>;

export interface InspectServerOptions {
  render: RenderPage;
  /** The token shown at the first visit (the command line's TOKEN). */
  token?: string;
  /** Seconds without a request after which the server closes itself. */
  idleSeconds: number;
}

export interface InspectServer {
  /** `http://127.0.0.1:PORT/SECRET/`: the only address that answers. */
  readonly url: string;
  /** Resolves when the server has closed: `idle` after the idle time, `closed` after {@link close}. */
  readonly done: Promise<'idle' | 'closed'>;
  close(): Promise<void>;
}

/** The headers of every answer: nothing cached, nothing framed, nothing loaded but the page itself. */
function securityHeaders(nonce?: string): Record<string, string> {
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      nonce ? `style-src 'nonce-${nonce}'` : undefined,
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ]
      .filter(Boolean)
      .join('; '),
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}

/** The `token` field of a urlencoded form body, or undefined when the body is too big or has none. */
async function formToken(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? undefined;
}

/** Starts the server; it listens when this resolves. */
export async function startInspectServer(options: InspectServerOptions): Promise<InspectServer> {
  const secret = randomBytes(24).toString('base64url');
  const path = `/${secret}/`;
  let origin = '';
  let idleTimer: NodeJS.Timeout | undefined;
  let settle!: (how: 'idle' | 'closed') => void;
  const done = new Promise<'idle' | 'closed'>((resolve) => (settle = resolve));

  const server = createServer((req, res) => {
    touch();
    void answer(req, res).catch(() => {
      if (!res.headersSent) plain(res, 500, 'could not show the page');
      else res.destroy();
    });
  });
  // A browser keeps connections open: they must not hold the process after close.
  server.keepAliveTimeout = 1000;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only this address: a page elsewhere that points a name at 127.0.0.1 (DNS rebinding) is turned away.
    if (req.headers.host !== origin.slice('http://'.length)) return plain(res, 421, 'wrong host');
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== path) return plain(res, 404, 'not found');
    let token = options.token;
    if (req.method === 'POST') {
      // A form posted from another site (the secret leaked into a page) is refused. Our own page
      // sends no referrer, so its Origin is "null"; the browser's Sec-Fetch-Site still says same-origin.
      const from = req.headers.origin;
      const site = req.headers['sec-fetch-site'];
      if ((from !== undefined && from !== origin && from !== 'null') || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
        return plain(res, 403, 'wrong origin');
      }
      token = await formToken(req);
      if (token === undefined) return plain(res, 413, 'no token in the form, or more than 1 MiB');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      return plain(res, 405, 'method not allowed');
    }
    const nonce = randomBytes(16).toString('base64');
    const html = await options.render({ token: token?.trim() === '' ? undefined : token, nonce, action: path });
    res.writeHead(200, { ...securityHeaders(nonce), 'Content-Type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : html);
  }

  function touch(): void {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => void stop('idle'), options.idleSeconds * 1000);
    idleTimer.unref?.();
  }

  let stopping: Promise<void> | undefined;
  function stop(how: 'idle' | 'closed'): Promise<void> {
    stopping ??= new Promise<void>((resolve) => {
      clearTimeout(idleTimer);
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => settle(how));
    return stopping;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  origin = `http://${HOST}:${(server.address() as AddressInfo).port}`;
  touch();
  return { url: `${origin}${path}`, done, close: () => stop('closed') };
}
