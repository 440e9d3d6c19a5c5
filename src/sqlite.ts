/**
 * Opening a node's SQLite file (`node:sqlite`): WAL, so a kill -9 loses no committed
 * transaction, and a busy timeout. Every write goes through {@link transaction} or {@link write},
 * which turn a
 * full disk or a read-only file into a {@link MixnetError} that names the file, so a peer is
 * told why nothing was stored and nothing half-written is ever acknowledged.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import { MixnetError } from "./errors.ts";

export type { DatabaseSync };

/** Rows from this size on are stored in large pages. */
const LARGE_ROW_BYTES = 16 * 1024;

/**
 * Size of the write-ahead log at which a commit copies it into the database (SQLite's own
 * check point, 4 MiB by default). A mix checks point itself between rounds
 * ({@link IdleCheckpoint}); this bound only holds when it has no pause.
 */
const WAL_AUTOCHECKPOINT_BYTES = 64 * 2 ** 20;

/** How long a database has had no write before {@link IdleCheckpoint} checks point it. */
const CHECKPOINT_IDLE_MS = 20;

/**
 * Opens (creating) the database at `path` and applies `schema`. A new database storing rows of
 * `rowBytes` or more gets 64 KiB pages rather than 4 KiB: a 1 MB packet is then 16 pages to
 * write, log and check point instead of 250 (2.5 times faster for 10 x 1 MB rounds), while
 * small rows keep small pages (a one-row transaction costs 32 us instead of 114 us).
 *
 * @throws {MixnetError} naming the file when it cannot be opened or written.
 */
export function openDatabase(path: string, schema: string, rowBytes = 0): DatabaseSync {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    // Takes effect only before the first table is created.
    db.exec(`PRAGMA page_size = ${rowBytes >= LARGE_ROW_BYTES ? 65536 : 4096}`);
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;`);
    db.exec(schema);
    const pageSize = Number(db.prepare("PRAGMA page_size").get()!.page_size);
    db.exec(`PRAGMA wal_autocheckpoint = ${Math.ceil(WAL_AUTOCHECKPOINT_BYTES / pageSize)}`);
    // Proves the file is writable now rather than at the first packet: a read-only data_dir
    // with an existing database opens and reads fine.
    db.exec("BEGIN IMMEDIATE; PRAGMA user_version = 1; COMMIT");
    return db;
  } catch (cause) {
    throw new MixnetError(
      `Cannot open database ${path}: ${
        (cause as Error).message
      } (is data_dir writable, with free space?)`,
      { status: "failed-precondition", cause },
    );
  }
}

/**
 * Adds a column to a table created by an earlier version, if it lacks it (a schema migration:
 * `CREATE TABLE IF NOT EXISTS` leaves an old table as it was).
 *
 * @throws {MixnetError} naming the file when it cannot be written.
 */
export function addColumn(db: DatabaseSync, table: string, column: string, type: string): void {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all().map((c) => c.name);
  if (!columns.includes(column)) {
    write(db, () => db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`));
  }
}

/**
 * Runs `fn` in one transaction: all of it is committed, or none. Inside a transaction already
 * in progress, `fn` simply joins it.
 *
 * @throws {MixnetError} naming the file, resource-exhausted when the disk is full and
 * unavailable when the file cannot be written; errors of `fn` itself pass unchanged.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) return fn();
  return write(db, () => {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      db.exec("COMMIT");
      return result;
    } finally {
      // SQLite rolls back by itself on some errors (a full disk); roll back what is left.
      if (db.isTransaction) db.exec("ROLLBACK");
    }
  });
}

/**
 * Runs `fn`, a single write statement (atomic on its own), with the errors of
 * {@link transaction}.
 */
export function write<T>(db: DatabaseSync, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw storageError(db, error);
  }
}

/** An SQLite failure as a {@link MixnetError} that names the file; anything else unchanged. */
function storageError(db: DatabaseSync, error: unknown): unknown {
  if (error instanceof MixnetError || (error as { code?: string })?.code !== "ERR_SQLITE_ERROR") {
    return error;
  }
  const reason = (error as Error).message;
  const full = /disk is full|SQLITE_FULL/i.test(reason);
  return new MixnetError(`Cannot write ${db.location() ?? "the database"}: ${reason}`, {
    status: full ? "resource-exhausted" : "unavailable",
    cause: error,
  });
}

/**
 * Copies the write-ahead log into the database once no write has come for a moment, rather
 * than inside the commit that crosses SQLite's threshold: a mix's round commits then skip the
 * check point, which at 4 MiB doubled their cost (35 instead of 15 ms per 12 MB round), and it
 * runs while the mix waits for its next round. Durability is the same either way: a committed
 * transaction is in the log, and the log survives the process.
 */
export class IdleCheckpoint {
  readonly #db: DatabaseSync;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Notes a write: the check point waits until the writes pause. */
  written(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        // Passive: never waits on a reader; what it cannot copy now the next one does.
        this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // A full disk or a closed file: the next write reports it, naming the file.
      }
    }, CHECKPOINT_IDLE_MS);
  }

  /** Cancels a pending check point (before the database closes). */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
