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
 * check point, 4 MiB by default), in the commit that crosses it.
 */
const WAL_AUTOCHECKPOINT_BYTES = 64 * 2 ** 20;
/**
 * Size the log file is cut back to when it starts over, after a large round grew it past that
 * (it would otherwise keep its largest size on disk).
 */
const WAL_FILE_BYTES = 64 * 2 ** 20;

/**
 * The same bound where a {@link BackgroundCheckpoint} copies the log after every write: then it
 * only holds when the worker falls behind (or could not start). At 64 MiB a round of 100,000
 * packets of 1 KiB, which writes over 100 MB in one transaction, crossed it in its own commit and
 * was copied there, on the mix's thread: 0.3 s alone, 0.7 s under load, between the round's
 * processing and its forward.
 */
const WAL_BEHIND_WORKER_BYTES = 2 ** 30;

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
    // First, so that every statement after it waits out another connection's lock (the check
    // point worker of a store closed a moment ago) instead of failing.
    db.exec("PRAGMA busy_timeout = 5000");
    // Takes effect only before the first table is created.
    db.exec(`PRAGMA page_size = ${rowBytes >= LARGE_ROW_BYTES ? 65536 : 4096}`);
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;`);
    db.exec(`PRAGMA journal_size_limit = ${WAL_FILE_BYTES}`);
    db.exec(schema);
    setAutocheckpoint(db, WAL_AUTOCHECKPOINT_BYTES);
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

/** Sets the size of the write-ahead log at which a commit check points it itself. */
function setAutocheckpoint(db: DatabaseSync, bytes: number): void {
  const pageSize = Number(db.prepare("PRAGMA page_size").get()!.page_size);
  db.exec(`PRAGMA wal_autocheckpoint = ${Math.ceil(bytes / pageSize)}`);
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
 * Copies the write-ahead log into the database in a worker thread, with a connection of its
 * own, after writes: a check point of a 10 x 1 MB round rewrites and syncs the round's pages
 * (about 11 ms here, a third of a busy mix's main thread at 10 x 1 MB on 16 cores), and a
 * reader or writer on the main thread never waits on it (WAL lets one check point run beside
 * them). One runs at a time; writes during it ask for one more. Durability is the same either
 * way: a committed transaction is in the log, and the log survives the process. If the worker
 * falls behind, SQLite's own check point in a commit still bounds the log, at
 * {@link WAL_BEHIND_WORKER_BYTES}; if it cannot work at all (it did not load, or cannot open the
 * file), at {@link WAL_AUTOCHECKPOINT_BYTES} again.
 */
export class BackgroundCheckpoint {
  readonly #worker: Worker;
  /** A check point is running or asked for. */
  #busy = false;
  /** Written since the running one began. */
  #again = false;
  /** The worker failed (it could not load, or open the file): nothing to wait for. */
  #failed = false;
  #closed: Promise<void> | undefined;
  readonly #db: DatabaseSync;

  /**
   * Starts the worker for `db` (opened by {@link openDatabase}, with its schema), whose commits
   * from now on leave the log to it up to {@link WAL_BEHIND_WORKER_BYTES}.
   */
  constructor(db: DatabaseSync) {
    this.#worker = new Worker(new URL("./sqlite_checkpoint.ts", import.meta.url), {
      type: "module",
    });
    this.#db = db;
    this.#worker.postMessage({ path: db.location() });
    setAutocheckpoint(db, WAL_BEHIND_WORKER_BYTES);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail();
    };
    this.#worker.onmessage = (event: MessageEvent<"done" | "unavailable">) => {
      if (event.data === "unavailable") return this.#fail();
      this.#busy = false;
      if (this.#again) this.written();
    };
  }

  /**
   * Never the mix's failure: the commits check point the log themselves again, at SQLite's
   * usual bound.
   */
  #fail(): void {
    this.#failed = true;
    if (this.#db.isOpen) setAutocheckpoint(this.#db, WAL_AUTOCHECKPOINT_BYTES);
  }

  /** Notes a write: a check point follows. */
  written(): void {
    if (this.#failed) return;
    if (this.#busy || this.#closed) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    this.#again = false;
    this.#worker.postMessage("checkpoint");
  }

  /**
   * Stops the worker once its check point in progress, if any, is done and its connection is
   * closed. What it had not copied yet stays in the log for the next one.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const done = () => {
        this.#worker.terminate();
        resolve();
      };
      if (this.#failed) return done();
      this.#worker.onmessage = (event) => {
        if (event.data === "closed") done();
      };
      this.#worker.onerror = (event) => {
        event.preventDefault();
        done();
      };
      this.#worker.postMessage("close");
    });
    return this.#closed;
  }
}
