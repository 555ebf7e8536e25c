/**
 * The Context: every side effect the program has comes from here (streams, environment, clock,
 * network, browser, file locations). It is the only module that touches `process`, `Date.now`,
 * the global `fetch` and the `open` package; tests build their own.
 */
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export type Env = Readonly<Record<string, string | undefined>>;

export interface InputStream extends Readable {
  isTTY?: boolean;
}

export interface OutputStream extends Writable {
  isTTY?: boolean;
}

/** Opens a URL for the user; resolves once the browser has been started (not when it loads). */
export type BrowserLauncher = (url: string) => Promise<void>;

export interface Context {
  readonly stdin: InputStream;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Env;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  readonly fetch: typeof fetch;
  readonly openBrowser: BrowserLauncher;
  /**
   * Registers a handler for SIGINT/SIGTERM for the duration of an interactive flow.
   * Returns a function that removes it.
   */
  readonly onInterrupt: (handler: (signal: 'SIGINT' | 'SIGTERM') => void) => () => void;
  /**
   * This Context with extra trusted CAs (`--ca-file`) for every request; absent on test contexts.
   * @throws UsageError when the file cannot be read or holds no certificate.
   */
  readonly withCaFile?: (caFile: string) => Promise<Context>;
}

export interface Paths {
  /** The config file (`--config`, `AUTHBRIDGE_CONFIG`, else `$XDG_CONFIG_HOME/authbridge/config.json`). */
  configFile: string;
  /** The token cache directory (`AUTHBRIDGE_CACHE_DIR`, else `$XDG_CACHE_HOME/authbridge`). */
  cacheDir: string;
  /** Where the broker keeps its database by default (`$XDG_DATA_HOME/authbridge`). */
  dataDir: string;
}

function home(env: Env): string {
  // node:os only when HOME is not set (it always is on a POSIX login): one module less to load.
  return env.HOME || process.getBuiltinModule('node:os').homedir();
}

/** Resolves the contract's file locations from the environment. */
export function resolvePaths(env: Env, configFlag?: string): Paths {
  const configHome = env.XDG_CONFIG_HOME || join(home(env), '.config');
  const cacheHome = env.XDG_CACHE_HOME || join(home(env), '.cache');
  const dataHome = env.XDG_DATA_HOME || join(home(env), '.local', 'share');
  return {
    configFile: configFlag || env.AUTHBRIDGE_CONFIG || join(configHome, 'authbridge', 'config.json'),
    cacheDir: env.AUTHBRIDGE_CACHE_DIR || join(cacheHome, 'authbridge'),
    dataDir: join(dataHome, 'authbridge'),
  };
}

/** Runs `$BROWSER URL` when BROWSER is set, else the `open` package. */
async function launchBrowser(env: Env, url: string): Promise<void> {
  const { spawn } = await import('node:child_process');
  const browser = env.BROWSER;
  if (browser) {
    await new Promise<void>((resolve, reject) => {
      // BROWSER may carry arguments ("firefox --new-window"); the URL is passed as its own argv entry.
      const [command, ...args] = browser.split(/\s+/).filter(Boolean);
      const child = spawn(command!, [...args, url], { stdio: 'ignore', detached: true, env: { ...env } as NodeJS.ProcessEnv });
      child.once('error', reject);
      child.once('spawn', () => {
        child.unref();
        resolve();
      });
    });
    return;
  }
  const { default: open } = await import('open');
  const child = await open(url, { wait: false });
  child.unref();
}

/**
 * `fetch` through undici's EnvHttpProxyAgent (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and extra CAs;
 * the module is imported on the first request only.
 */
function dispatchingFetch(env: Env, caFile?: string): typeof fetch {
  let inner: Promise<typeof fetch> | undefined;
  return async (input, init) => {
    inner ??= import('./http/dispatcher.js').then((m) => m.dispatchingFetch(env, { caFile }));
    return (await inner)(input, init);
  };
}

function hasProxyEnv(env: Env): boolean {
  return ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((name) => Boolean(env[name]));
}

/**
 * stdout or stderr of this process (`fd` 1 or 2) as an OutputStream that costs nothing until used
 * and little when used as most runs use it. `write` of a string or bytes goes straight to the file
 * descriptor (`fs.writeSync`), which is what Node's own stdout does on Linux for files, pipes and
 * terminals, without loading the stream, net and tty modules a `process.stdout` needs (a tenth of
 * a hot command's start-up). `isTTY` is asked of the descriptor (a file, pipe, socket or /dev/null is
 * never a terminal; `node:tty` only for another character device). Anything else (events, `drain`, a spinner's
 * cursor moves) and every write after it goes to the real stream, as does the rest of a write the
 * descriptor refused with EAGAIN (a non-blocking pipe that is full): order is kept, as nothing is
 * written directly once the stream exists. A reader that went away (EPIPE) ends the output
 * silently, as before.
 */
function fdOutput(fd: 1 | 2, real: () => OutputStream): OutputStream {
  let stream: OutputStream | undefined;
  let closed = false;
  const materialise = (): OutputStream => {
    if (!stream) {
      stream = real();
      // `authbridge … | head`: a reader that goes away is not an error worth a stack trace.
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
      });
    }
    return stream;
  };
  let tty: boolean | undefined;
  const isTTY = (): boolean => {
    if (stream) return Boolean(stream.isTTY);
    if (tty === undefined) {
      const fs = process.getBuiltinModule('node:fs');
      // A character device may be a terminal; /dev/null (stdout of a job, a cron line) is not.
      let maybeTerminal = false;
      try {
        const stat = fs.fstatSync(fd);
        maybeTerminal = stat.isCharacterDevice() && stat.rdev !== fs.statSync('/dev/null').rdev;
      } catch {
        maybeTerminal = false;
      }
      tty = maybeTerminal && process.getBuiltinModule('node:tty').isatty(fd);
    }
    return tty;
  };
  const write = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean => {
    const cb = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as ((err?: Error | null) => void) | undefined;
    const encoding = typeof encodingOrCallback === 'string' ? (encodingOrCallback as BufferEncoding) : undefined;
    if (stream || !(typeof chunk === 'string' || chunk instanceof Uint8Array)) {
      return encoding ? materialise().write(chunk, encoding, cb) : materialise().write(chunk, cb);
    }
    if (closed) {
      if (cb) process.nextTick(cb);
      return true;
    }
    const fs = process.getBuiltinModule('node:fs');
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk;
    try {
      while (bytes.length > 0) bytes = bytes.subarray(fs.writeSync(fd, bytes));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return materialise().write(bytes, cb);
      if (code !== 'EPIPE') throw err;
      closed = true;
    }
    if (cb) process.nextTick(cb);
    return true;
  };
  return new Proxy({} as OutputStream, {
    get(_target, prop) {
      if (prop === 'write') return write;
      if (prop === 'isTTY') return isTTY();
      if (prop === 'fd') return fd;
      const target = materialise();
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(materialise(), prop, value);
    },
    has(_target, prop) {
      return prop === 'write' || prop === 'isTTY' || prop === 'fd' || Reflect.has(materialise(), prop);
    },
  });
}

/** The real Context of a CLI process. */
export function nodeContext(): Context {
  // The streams are made on first use (see fdOutput), and most runs never read stdin.
  const stdout = fdOutput(1, () => process.stdout);
  const stderr = fdOutput(2, () => process.stderr);
  const ctx: Context = {
    get stdin() {
      return process.stdin;
    },
    stdout,
    stderr,
    env: process.env,
    now: () => Date.now(),
    // Checked once here so a run without a proxy does not even import the dispatcher module.
    fetch: hasProxyEnv(process.env) ? dispatchingFetch(process.env) : (...args) => globalThis.fetch(...args),
    withCaFile: async (caFile) => {
      const { readCaFile } = await import('./http/dispatcher.js');
      await readCaFile(caFile);
      return { ...ctx, fetch: dispatchingFetch(process.env, caFile) };
    },
    openBrowser: (url) => launchBrowser(process.env, url),
    onInterrupt: (handler) => {
      const onInt = () => handler('SIGINT');
      const onTerm = () => handler('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      return () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      };
    },
  };
  return ctx;
}
