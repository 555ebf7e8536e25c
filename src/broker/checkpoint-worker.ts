/**
 * The broker's WAL checkpointer, on a thread of its own: copying the WAL into the database and
 * its fsync take milliseconds, which the event loop answering token requests must not wait for.
 * It opens its own connection to the file; a PASSIVE checkpoint never blocks the writers.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

interface CheckpointSetup {
  path: string;
  intervalMs: number;
}

const { path, intervalMs } = workerData as CheckpointSetup;
const db = new Database(path, { timeout: 1000 });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or read-only: the next period tries again; the WAL keeps the data meanwhile.
  }
}, intervalMs);

parentPort!.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
