/**
 * A client's durable state in one SQLite file: the outgoing queue (each message's first onion,
 * built at PrepareMessage time, and what it takes to build a fresh one for a later attempt),
 * messages fetched from the mailbox but not yet handed to the user, the ids of messages already
 * received (so a message sent twice is kept once), the loops in flight, and the fetch state.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { addColumn, type DatabaseSync, openDatabase, transaction, write } from "../sqlite.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outgoing (
  id INTEGER PRIMARY KEY AUTOINCREMENT, packet BLOB NOT NULL, prepared_ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS received (
  id INTEGER PRIMARY KEY AUTOINCREMENT, message BLOB NOT NULL, arrived_ms REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen (message_id BLOB PRIMARY KEY, seen_ms REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loops (
  loop_id BLOB PRIMARY KEY, round INTEGER NOT NULL, sent_ms REAL NOT NULL,
  acked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** Columns of `outgoing` added after its first version (added to older files on open). */
const OUTGOING_COLUMNS = [
  ["message", "BLOB"],
  ["recipient_addr", "TEXT"],
  ["recipient_key", "BLOB"],
  ["message_id", "BLOB"],
  ["attempts", "INTEGER NOT NULL DEFAULT 0"],
] as const;

/** How long the ids of received messages are kept to recognise a second copy. */
const SEEN_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** A message waiting in the outgoing queue. */
export interface QueuedMessage {
  /** Queue position id (increasing). */
  readonly id: number;
  /** The onion built at PrepareMessage time, for the first attempt only. */
  readonly packet: Uint8Array;
  /** Attempts made so far: from the second on, the onion is built afresh. */
  readonly attempts: number;
  /** What a fresh onion is built from (absent for a message queued by an older version). */
  readonly rebuild?: {
    readonly message: Uint8Array;
    readonly recipientAddress: string;
    readonly recipientKey: Uint8Array;
    readonly messageId: Uint8Array;
  };
  /** Wall-clock ms PrepareMessage was called. */
  readonly preparedMs: number;
}

/** A message as it is queued. */
export interface NewMessage {
  readonly packet: Uint8Array;
  readonly message: Uint8Array;
  readonly recipientAddress: string;
  readonly recipientKey: Uint8Array;
  readonly messageId: Uint8Array;
  readonly preparedMs: number;
}

/** A loop sent and not back yet. */
export interface LoopInFlight {
  readonly id: Uint8Array;
  /** The round it was sent in. */
  readonly round: number;
  /** Wall-clock ms it was sent. */
  readonly sentMs: number;
  /** Whether the first mix acknowledged it (only then can it be missed). */
  readonly acked: boolean;
}

/** What one mailbox fetch changes, stored together. */
export interface FetchOutcome {
  /** Messages it carried (a message already received is skipped). */
  readonly messages: readonly { id: Uint8Array; message: Uint8Array }[];
  /** Loops it brought back, or that are now known lost: no longer in flight. */
  readonly loopsDone: readonly Uint8Array[];
  /** The token that acknowledges the response in the next fetch. */
  readonly token: Uint8Array;
  /** The fetch's timestamp, which the next must exceed. */
  readonly pollClockMs: number;
  /** Packets the mailbox has dropped in all, as the last mix last said. */
  readonly droppedTotal: number;
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
    for (const [column, type] of OUTGOING_COLUMNS) addColumn(this.#db, "outgoing", column, type);
    write(this.#db, () => {
      this.#sql("DELETE FROM seen WHERE seen_ms < ?").run(Date.now() - SEEN_RETENTION_MS);
    });
  }

  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, statement = this.#db.prepare(sql));
    return statement;
  }

  /** Appends a message to the outgoing queue; returns how many were queued before it. */
  enqueue(m: NewMessage): number {
    return transaction(this.#db, () => {
      const ahead = this.queueLength();
      this.#sql(
        `INSERT INTO outgoing
         (packet, prepared_ms, message, recipient_addr, recipient_key, message_id)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(m.packet, m.preparedMs, m.message, m.recipientAddress, m.recipientKey, m.messageId);
      return ahead;
    });
  }

  /** The head of the queue, if any. */
  head(): QueuedMessage | undefined {
    const row = this.#sql("SELECT * FROM outgoing ORDER BY id LIMIT 1").get();
    if (!row) return undefined;
    return {
      id: Number(row.id),
      packet: row.packet as Uint8Array,
      attempts: Number(row.attempts),
      rebuild: row.message === null ? undefined : {
        message: row.message as Uint8Array,
        recipientAddress: String(row.recipient_addr),
        recipientKey: row.recipient_key as Uint8Array,
        messageId: row.message_id as Uint8Array,
      },
      preparedMs: Number(row.prepared_ms),
    };
  }

  /** Records an attempt at sending a queued message, before it is made. */
  attempted(id: number): void {
    write(this.#db, () => {
      this.#sql("UPDATE outgoing SET attempts = attempts + 1 WHERE id = ?").run(id);
    });
  }

  /** Removes a message the first mix accepted (or that cannot be sent). */
  dequeue(id: number): void {
    write(this.#db, () => {
      this.#sql("DELETE FROM outgoing WHERE id = ?").run(id);
    });
  }

  /** Messages waiting to be sent. */
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

  /** Records a loop about to be sent (so that it is known before it can come back). */
  loopSending(id: Uint8Array, round: number): void {
    write(this.#db, () => {
      this.#sql("INSERT OR REPLACE INTO loops (loop_id, round, sent_ms) VALUES (?, ?, ?)").run(
        id,
        round,
        Date.now(),
      );
    });
  }

  /** Marks a loop acknowledged by the first mix. */
  loopAcknowledged(id: Uint8Array): void {
    write(this.#db, () => {
      this.#sql("UPDATE loops SET acked = 1 WHERE loop_id = ?").run(id);
    });
  }

  /** Forgets a loop that was never accepted. */
  loopMissed(id: Uint8Array): void {
    write(this.#db, () => {
      this.#sql("DELETE FROM loops WHERE loop_id = ?").run(id);
    });
  }

  /** Loops in flight, oldest round first. */
  loopsInFlight(): LoopInFlight[] {
    return this.#sql("SELECT * FROM loops ORDER BY round").all().map((r) => ({
      id: r.loop_id as Uint8Array,
      round: Number(r.round),
      sentMs: Number(r.sent_ms),
      acked: Number(r.acked) === 1,
    }));
  }

  /**
   * Stores what one fetch brought, in one transaction: a crash leaves all of it or none, so
   * the token is acknowledged only once its messages are safe. A message whose id was seen
   * before is not kept again.
   */
  storeFetch(outcome: FetchOutcome): void {
    const now = Date.now();
    transaction(this.#db, () => {
      const seen = this.#sql("INSERT OR IGNORE INTO seen (message_id, seen_ms) VALUES (?, ?)");
      const insert = this.#sql("INSERT INTO received (message, arrived_ms) VALUES (?, ?)");
      for (const { id, message } of outcome.messages) {
        if (seen.run(id, now).changes === 1) insert.run(message, now);
      }
      const done = this.#sql("DELETE FROM loops WHERE loop_id = ?");
      for (const id of outcome.loopsDone) done.run(id);
      this.set("fetch_token", Array.from(outcome.token, hex).join(""));
      this.set("poll_clock_ms", outcome.pollClockMs);
      this.set("dropped_total", outcome.droppedTotal);
    });
  }

  /** The token of the last response stored (empty before the first). */
  fetchToken(): Uint8Array {
    const text = this.get("fetch_token") ?? "";
    return Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
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

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
