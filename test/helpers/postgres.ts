/**
 * A real PostgreSQL server for the tests: Debian's `postgresql` package (`.ci/run` installs it),
 * initialised in a temp data dir and started on 127.0.0.1 at a free port, as the `postgres`
 * user when the tests run as root (the server refuses to run as root). `stop()` shuts it down
 * and removes the directory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { closedPort } from '../jwt/fixtures.js';

export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/NAME`. */
  url(database?: string): string;
  /** Creates an empty database (or empties it again) and resolves its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs one statement on `database` and resolves its rows. */
  query<R = Record<string, unknown>>(database: string, sql: string, params?: unknown[]): Promise<R[]>;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's binaries (/usr/lib/postgresql/N/bin), or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

/** Runs a PostgreSQL binary as the postgres user when we are root. */
function asPostgres(bin: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const [cmd, argv] = root ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const result = spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/' });
  if (result.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

/**
 * Starts a server. `durable: false` (tests) switches fsync off: the data survives a broker
 * process being killed, which is what the tests kill; the bench keeps it on.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed: apt-get install postgresql (.ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await closedPort();
  const settings = [`-h 127.0.0.1`, `-p ${port}`, `-k ${dir}`, '-c max_connections=200', ...(options.durable ? [] : ['-c fsync=off', '-c full_page_writes=off'])];
  asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-o', settings.join(' '), '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const query = async <R>(database: string, sql: string, params: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as R[];
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  return {
    url,
    query,
    async createDatabase(name) {
      await query('postgres', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await query('postgres', `CREATE DATABASE "${name}"`);
      return url(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
