/**
 * Opening a node's SQLite file (`node:sqlite`): WAL, so a kill -9 loses no committed
 * transaction, and a busy timeout.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import { MixnetError } from "./errors.ts";

export type { DatabaseSync };

/**
 * Opens (creating) the database at `path` and applies `schema`.
 *
 * @throws {MixnetError} naming the file when it cannot be opened or written.
 */
export function openDatabase(path: string, schema: string): DatabaseSync {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;`);
    db.exec(schema);
    return db;
  } catch (cause) {
    throw new MixnetError(`Cannot open database ${path}: ${(cause as Error).message}`, {
      status: "failed-precondition",
      cause,
    });
  }
}

/** Runs `fn` in one transaction: all of it is committed, or none. */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
