/**
 * A client's durable state in one SQLite file: the outgoing queue (onions built at
 * PrepareMessage time), messages fetched from the mailbox but not yet handed to the user, the
 * mailbox cursor and poll clock, and the send times of messages to itself.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { type DatabaseSync, openDatabase, transaction, write } from "../sqlite.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outgoing (
  id INTEGER PRIMARY KEY AUTOINCREMENT, packet BLOB NOT NULL, prepared_ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS received (
  id INTEGER PRIMARY KEY AUTOINCREMENT, message BLOB NOT NULL, arrived_ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent_to_self (digest TEXT PRIMARY KEY, prepared_ms REAL NOT NULL);
`;

/** A queued packet. */
export interface QueuedPacket {
  /** Queue position id (increasing). */
  readonly id: number;
  /** The onion, ready to send. */
  readonly packet: Uint8Array;
  /** Wall-clock ms PrepareMessage was called. */
  readonly preparedMs: number;
}

/** A client's SQLite store. */
export class ClientStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  /**
   * Opens the store at `path`; `packetBytes`, the size of the packets it queues, sizes the
   * pages of a new file.
   *
   * @throws {MixnetError} when the file cannot be opened.
   */
  constructor(path: string, packetBytes = 0) {
    this.#db = openDatabase(path, SCHEMA, packetBytes);
  }

  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, statement = this.#db.prepare(sql));
    return statement;
  }

  /** Appends a packet to the outgoing queue; returns how many were queued before it. */
  enqueue(packet: Uint8Array, preparedMs: number): number {
    return transaction(this.#db, () => {
      const ahead = Number(this.#sql("SELECT COUNT(*) AS n FROM outgoing").get()!.n);
      this.#sql("INSERT INTO outgoing (packet, prepared_ms) VALUES (?, ?)").run(packet, preparedMs);
      return ahead;
    });
  }

  /** The head of the queue, if any. */
  head(): QueuedPacket | undefined {
    const row = this.#sql("SELECT id, packet, prepared_ms FROM outgoing ORDER BY id LIMIT 1").get();
    return row
      ? {
        id: Number(row.id),
        packet: row.packet as Uint8Array,
        preparedMs: Number(row.prepared_ms),
      }
      : undefined;
  }

  /** Removes a packet the first mix accepted. */
  dequeue(id: number): void {
    write(this.#db, () => {
      this.#sql("DELETE FROM outgoing WHERE id = ?").run(id);
    });
  }

  /** Packets waiting to be sent. */
  queueLength(): number {
    return Number(this.#sql("SELECT COUNT(*) AS n FROM outgoing").get()!.n);
  }

  /** Reads a state value. */
  get(key: string): string | undefined {
    const row = this.#sql("SELECT value FROM state WHERE key = ?").get(key);
    return row ? String(row.value) : undefined;
  }

  /** Writes a state value. */
  set(key: string, value: string | number): void {
    write(this.#db, () => {
      this.#sql(
        "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(key, String(value));
    });
  }

  /**
   * Records the messages of one mailbox poll and the cursor that acknowledges them, in one
   * transaction: a crash leaves either both or neither.
   */
  storeFetched(messages: readonly Uint8Array[], cursor: number, pollClockMs: number): void {
    const now = Date.now();
    transaction(this.#db, () => {
      const insert = this.#sql("INSERT INTO received (message, arrived_ms) VALUES (?, ?)");
      for (const message of messages) insert.run(message, now);
      this.set("cursor", cursor);
      this.set("poll_clock_ms", pollClockMs);
    });
  }

  /** Messages fetched and not yet handed to the user, in arrival order. */
  pending(): { id: number; message: Uint8Array }[] {
    return this.#sql("SELECT id, message FROM received ORDER BY id").all().map((r) => ({
      id: Number(r.id),
      message: r.message as Uint8Array,
    }));
  }

  /** Forgets messages handed to the user, up to `id`. */
  handedOver(id: number): void {
    write(this.#db, () => {
      this.#sql("DELETE FROM received WHERE id <= ?").run(id);
    });
  }

  /** Remembers when a message to this client itself was prepared (for delivery latency). */
  rememberSentToSelf(digest: string, preparedMs: number): void {
    write(this.#db, () => {
      this.#sql("INSERT OR REPLACE INTO sent_to_self (digest, prepared_ms) VALUES (?, ?)").run(
        digest,
        preparedMs,
      );
    });
  }

  /** When a message to itself with this digest was prepared; forgets it. */
  takeSentToSelf(digest: string): number | undefined {
    return transaction(this.#db, () => {
      const row = this.#sql("SELECT prepared_ms FROM sent_to_self WHERE digest = ?").get(digest);
      if (!row) return undefined;
      this.#sql("DELETE FROM sent_to_self WHERE digest = ?").run(digest);
      return Number(row.prepared_ms);
    });
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
