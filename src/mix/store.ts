/**
 * A mix's durable state in one SQLite file: registrations and the round clock (first mix),
 * packets received but not yet processed (inbox), replay tags, the batch being forwarded
 * (outbox), mailboxes (last mix). Every state change a peer relies on is one transaction.
 *
 * @module
 */
import {
  BATCH_CHUNK_BYTES,
  packChunks,
  type PackedChunk,
  packetCount,
  unpack,
} from "../rpc/batch.ts";
import {
  addColumn,
  BackgroundCheckpoint,
  type DatabaseSync,
  openDatabase,
  transaction,
  write,
} from "../sqlite.ts";
import type { StatementSync } from "node:sqlite";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registrations (client_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS inbox (
  round INTEGER NOT NULL, slot TEXT NOT NULL, packet BLOB NOT NULL, arrived_ms REAL NOT NULL,
  PRIMARY KEY (round, slot));
CREATE TABLE IF NOT EXISTS received_rounds (round INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS staged_chunks (
  round INTEGER NOT NULL, chunk INTEGER NOT NULL, PRIMARY KEY (round, chunk));
CREATE TABLE IF NOT EXISTS tags (tag TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
  round INTEGER NOT NULL, idx INTEGER NOT NULL, packet BLOB NOT NULL, PRIMARY KEY (round, idx));
CREATE TABLE IF NOT EXISTS mailbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL, round INTEGER NOT NULL,
  packet BLOB NOT NULL, sent_in BLOB);
CREATE INDEX IF NOT EXISTS mailbox_by_recipient ON mailbox (recipient, id);
CREATE TABLE IF NOT EXISTS mailbox_dropped (recipient TEXT PRIMARY KEY, total INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS poll_clock (client_id TEXT PRIMARY KEY, timestamp_ms INTEGER NOT NULL);
`;

/** What one mailbox fetch takes from the store. */
export interface MailboxFetch {
  /** The oldest waiting packets, at most the fetch size. */
  readonly packets: Uint8Array[];
  /** Packets still waiting after these. */
  readonly pending: number;
  /** Packets this mailbox has dropped for want of room, ever. */
  readonly dropped: number;
  /** The last round stored (-1 before the first). */
  readonly round: number;
}

/** Options of {@link MixStore}. */
export interface MixStoreOptions {
  /** Size of the packets it stores, which sizes the pages of a new file. */
  readonly packetBytes?: number;
  /**
   * Whether it stores packets one to a row (the first mix's inbox, the last mix's mailboxes);
   * default true. A mix between them stores only chunks of batches (up to 1 MiB a row), and a
   * new file of its gets large pages whatever the packet size: 100 MB of chunks then take a
   * third of the CPU to write and to check point.
   */
  readonly singlePackets?: boolean;
  /** Most packets one mailbox keeps (the oldest are dropped); default unbounded. */
  readonly mailboxCapacity?: number;
}

/** What a round's processing commits at once. */
export interface RoundOutcome {
  /** The round. */
  readonly round: number;
  /** Replay tags of every packet that opened. */
  readonly tags: readonly string[];
  /** The shuffled batch for the next mix (not at the last mix). */
  readonly outgoing?: readonly Uint8Array[];
  /** Packets for mailboxes (last mix only). */
  readonly deliveries?: readonly { recipient: string; packet: Uint8Array }[];
}

/** A mix's SQLite store. */
export class MixStore {
  readonly #db: DatabaseSync;
  readonly #checkpoint: BackgroundCheckpoint;
  readonly #statements = new Map<string, StatementSync>();
  readonly #mailboxCapacity: number;

  /**
   * Opens the store at `path` for a mix whose public key is `publicKeyText`; replay tags are
   * kept for the life of that key and cleared when it changes.
   *
   * @throws {MixnetError} when the file cannot be opened.
   */
  constructor(path: string, publicKeyText: string, options: MixStoreOptions = {}) {
    const rowBytes = options.singlePackets === false ? BATCH_CHUNK_BYTES : options.packetBytes;
    this.#db = openDatabase(path, SCHEMA, rowBytes ?? 0);
    this.#checkpoint = new BackgroundCheckpoint(this.#db);
    this.#mailboxCapacity = options.mailboxCapacity ?? Number.MAX_SAFE_INTEGER;
    addColumn(this.#db, "mailbox", "sent_in", "BLOB");
    // A row of the inbox or outbox holds `packets` packets of `packet_bytes` end to end (a
    // chunk of a batch); rows of an older version hold one packet each.
    for (const table of ["inbox", "outbox"]) {
      addColumn(this.#db, table, "packets", "INTEGER NOT NULL DEFAULT 1");
      addColumn(this.#db, table, "packet_bytes", "INTEGER");
    }
    if (this.getMeta("public_key") !== publicKeyText) {
      transaction(this.#db, () => {
        this.#db.exec("DELETE FROM tags");
        this.setMeta("public_key", publicKeyText);
      });
    }
  }

  #sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Reads a value of the `meta` table. */
  getMeta(key: string): string | undefined {
    const row = this.#sql("SELECT value FROM meta WHERE key = ?").get(key);
    return row ? String(row.value) : undefined;
  }

  /** Writes a value of the `meta` table. */
  setMeta(key: string, value: string | number): void {
    write(this.#db, () => {
      this.#sql(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
        .run(key, String(value));
    });
  }

  /** Every registered client id. */
  registrations(): string[] {
    return this.#sql("SELECT client_id FROM registrations").all().map((r) => String(r.client_id));
  }

  /** Records a registration (idempotent). */
  register(clientId: string): void {
    write(this.#db, () => {
      this.#sql("INSERT OR IGNORE INTO registrations (client_id) VALUES (?)").run(clientId);
    });
  }

  /**
   * Stores client packets in one transaction (all or none); for each, false when that client
   * already sent one in its round.
   */
  addAllToInbox(
    packets: readonly { round: number; slot: string; packet: Uint8Array; arrivedMs: number }[],
  ): boolean[] {
    return transaction(this.#db, () => {
      const insert = this.#sql(
        "INSERT OR IGNORE INTO inbox (round, slot, packet, arrived_ms) VALUES (?, ?, ?, ?)",
      );
      return packets.map((p) => insert.run(p.round, p.slot, p.packet, p.arrivedMs).changes === 1);
    });
  }

  /**
   * Stores one chunk of a round's batch from the previous mix, in the inbox, as one row; the
   * round counts as received (see {@link receivedRounds}) once all `chunks` are in. Returns
   * `"stored"` when this chunk completed the round, `"partial"` while chunks are missing, and
   * `"duplicate"` for a round already received or a chunk already stored.
   */
  receiveChunk(
    round: number,
    chunk: number,
    chunks: number,
    packed: PackedChunk,
    arrivedMs: number,
  ): "stored" | "partial" | "duplicate" {
    return transaction(this.#db, () => {
      if (this.#sql("SELECT 1 FROM received_rounds WHERE round = ?").get(round)) return "duplicate";
      const fresh = this.#sql("INSERT OR IGNORE INTO staged_chunks (round, chunk) VALUES (?, ?)")
        .run(round, chunk);
      if (fresh.changes === 0) return "duplicate";
      this.#sql(
        `INSERT INTO inbox (round, slot, packet, arrived_ms, packets, packet_bytes)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(
        round,
        `${chunk}`,
        packed.packed,
        arrivedMs,
        packetCount(packed),
        packed.packetBytes,
      );
      const staged = Number(
        this.#sql("SELECT COUNT(*) AS n FROM staged_chunks WHERE round = ?").get(round)!.n,
      );
      if (staged < chunks) return "partial";
      this.#sql("DELETE FROM staged_chunks WHERE round = ?").run(round);
      this.#sql("INSERT INTO received_rounds (round) VALUES (?)").run(round);
      return "stored";
    });
  }

  /** Rounds received whole from the previous mix and not yet processed, in order. */
  receivedRounds(): number[] {
    return this.#sql(
      `SELECT DISTINCT round FROM inbox WHERE round IN (SELECT round FROM received_rounds)
       ORDER BY round`,
    ).all().map((r) => Number(r.round));
  }

  /** Rounds with packets waiting in the inbox, in order. */
  inboxRounds(): number[] {
    return this.#sql("SELECT DISTINCT round FROM inbox ORDER BY round").all().map((r) =>
      Number(r.round)
    );
  }

  /** The senders (slots) of a round's inbox packets. */
  inboxSlots(round: number): string[] {
    return this.#sql("SELECT slot FROM inbox WHERE round = ?").all(round).map((r) =>
      String(r.slot)
    );
  }

  /** How many packets a round has in the inbox. */
  inboxCount(round: number): number {
    return Number(
      this.#sql("SELECT COALESCE(SUM(packets), 0) AS n FROM inbox WHERE round = ?").get(round)!.n,
    );
  }

  /** A round's inbox packets (views into its rows) with the first and last arrival time. */
  inbox(round: number): { packets: Uint8Array[]; firstMs: number; lastMs: number } {
    const rows = this.#sql(
      "SELECT packet, packet_bytes, arrived_ms FROM inbox WHERE round = ? ORDER BY arrived_ms",
    )
      .all(round);
    return {
      packets: rows.flatMap((r) => unpack(packedRow(r))),
      firstMs: rows.length ? Number(rows[0].arrived_ms) : NaN,
      lastMs: rows.length ? Number(rows[rows.length - 1].arrived_ms) : NaN,
    };
  }

  /**
   * Which of `tags` were already seen under the current key. The tags go in as one JSON array,
   * one statement for the whole round (a statement per tag costs three times as much), in
   * order (see {@link inOrder}).
   */
  knownTags(tags: readonly string[]): Set<string> {
    const known = this.#sql("SELECT tag FROM tags WHERE tag IN (SELECT value FROM json_each(?))")
      .all(inOrder(tags));
    return new Set(known.map((row) => row.tag as string));
  }

  /**
   * Commits a processed round in one transaction: its tags, its outgoing batch or mailbox
   * deliveries, the removal of its inbox packets, and the last processed round. A mailbox over
   * its capacity loses its oldest packets; returns how many were dropped so.
   */
  commitRound(outcome: RoundOutcome): number {
    // A round with nothing to forward is done here; one to forward is done once forwarded.
    if (!outcome.outgoing?.length) this.#checkpoint.written();
    return transaction(this.#db, () => {
      this.#sql("INSERT OR IGNORE INTO tags (tag) SELECT value FROM json_each(?)")
        .run(inOrder(outcome.tags));
      const out = this.#sql(
        "INSERT INTO outbox (round, idx, packet, packets, packet_bytes) VALUES (?, ?, ?, ?, ?)",
      );
      packChunks(outcome.outgoing ?? []).forEach((chunk, i) =>
        out.run(
          outcome.round,
          i,
          chunk.packed,
          packetCount(chunk),
          chunk.packetBytes,
        )
      );
      const deliver = this.#sql("INSERT INTO mailbox (recipient, round, packet) VALUES (?, ?, ?)");
      for (const d of byRecipient(outcome.deliveries ?? [])) {
        deliver.run(d.recipient, outcome.round, d.packet);
      }
      let dropped = 0;
      for (const { recipient, size } of this.#overCapacity(outcome.deliveries ?? [])) {
        dropped += this.#trimMailbox(String(recipient), Number(size) - this.#mailboxCapacity);
      }
      this.#sql("DELETE FROM inbox WHERE round = ?").run(outcome.round);
      this.setMeta("last_processed", outcome.round);
      return dropped;
    });
  }

  /** The mailboxes among the deliveries' recipients holding more than their capacity. */
  #overCapacity(deliveries: readonly { recipient: string }[]) {
    if (deliveries.length === 0) return [];
    // One statement for the round's recipients (one per recipient cost 3 us each).
    return this.#sql(
      `SELECT recipient, count(*) AS size FROM mailbox
       WHERE recipient IN (SELECT value FROM json_each(?))
       GROUP BY recipient HAVING count(*) > ?`,
    ).all(JSON.stringify([...new Set(deliveries.map((d) => d.recipient))]), this.#mailboxCapacity);
  }

  /** Drops a mailbox's `excess` oldest packets and counts them; returns how many. */
  #trimMailbox(recipient: string, excess: number): number {
    this.#sql(
      `DELETE FROM mailbox WHERE id IN
       (SELECT id FROM mailbox WHERE recipient = ? ORDER BY id LIMIT ?)`,
    ).run(recipient, excess);
    this.#sql(
      `INSERT INTO mailbox_dropped (recipient, total) VALUES (?, ?)
       ON CONFLICT (recipient) DO UPDATE SET total = total + excluded.total`,
    ).run(recipient, excess);
    return excess;
  }

  /** The oldest round waiting in the outbox with its chunks, in order, if any. */
  oldestOutgoing(): { round: number; chunks: PackedChunk[] } | undefined {
    const first = this.#sql("SELECT MIN(round) AS round FROM outbox").get();
    if (!first || first.round === null) return undefined;
    const round = Number(first.round);
    const chunks = this.#sql(
      "SELECT packet, packet_bytes FROM outbox WHERE round = ? ORDER BY idx",
    ).all(round).map(packedRow);
    return { round, chunks };
  }

  /** Rounds waiting in the outbox. */
  outboxDepth(): number {
    return Number(this.#sql("SELECT COUNT(DISTINCT round) AS n FROM outbox").get()!.n);
  }

  /** Deletes a round from the outbox once the next mix acknowledged it. */
  forwarded(round: number): void {
    this.#checkpoint.written();
    write(this.#db, () => {
      this.#sql("DELETE FROM outbox WHERE round = ?").run(round);
    });
  }

  /**
   * One fetch of a mailbox, in one transaction: deletes the packets of the response `ack`
   * names (the last one its owner stored), then takes the oldest `size` waiting packets and
   * marks them with `token`, the name of this response. Packets of a response that was never
   * acknowledged are sent again in the next one.
   */
  fetch(recipient: string, ack: Uint8Array, size: number, token: Uint8Array): MailboxFetch {
    return transaction(this.#db, () => {
      if (ack.length > 0) {
        this.#sql("DELETE FROM mailbox WHERE recipient = ? AND sent_in = ?").run(recipient, ack);
      }
      const rows = this.#sql(
        "SELECT id, packet FROM mailbox WHERE recipient = ? ORDER BY id LIMIT ?",
      ).all(recipient, size);
      const mark = this.#sql("UPDATE mailbox SET sent_in = ? WHERE id = ?");
      for (const row of rows) mark.run(token, row.id as number);
      const dropped = this.#sql("SELECT total FROM mailbox_dropped WHERE recipient = ?")
        .get(recipient);
      return {
        packets: rows.map((r) => r.packet as Uint8Array),
        pending: this.mailboxSize(recipient) - rows.length,
        dropped: dropped ? Number(dropped.total) : 0,
        round: this.lastProcessed(),
      };
    });
  }

  /** The last round processed (committed), -1 before the first. */
  lastProcessed(): number {
    return Number(this.getMeta("last_processed") ?? -1);
  }

  /** Entries waiting in a mailbox (for tests and metrics). */
  mailboxSize(recipient: string): number {
    return Number(
      this.#sql("SELECT COUNT(*) AS n FROM mailbox WHERE recipient = ?").get(recipient)!.n,
    );
  }

  /**
   * Records a poll timestamp of a client if it is newer than the last one; false for a stale
   * or replayed proof.
   */
  advancePollClock(clientId: string, timestampMs: number): boolean {
    return write(this.#db, () => {
      const result = this.#sql(
        `INSERT INTO poll_clock (client_id, timestamp_ms) VALUES (?, ?)
         ON CONFLICT (client_id) DO UPDATE SET timestamp_ms = excluded.timestamp_ms
         WHERE excluded.timestamp_ms > poll_clock.timestamp_ms`,
      ).run(clientId, timestampMs);
      return result.changes === 1;
    });
  }

  /** Closes the database, once the check point worker has closed its connection to it. */
  async close(): Promise<void> {
    await this.#checkpoint.close();
    this.#db.close();
  }
}

/** A row of the inbox or outbox as a chunk (a row of an older version: one whole packet). */
function packedRow(row: Record<string, unknown>): PackedChunk {
  const packed = row.packet as Uint8Array;
  const size = row.packet_bytes === null ? packed.length : Number(row.packet_bytes);
  return { packed, packetBytes: size };
}

/**
 * Replay tags sorted, as a JSON array: the tags B-tree is then searched and written in key order,
 * each page once. 100,000 tags beside 1,000,000 of earlier rounds: looked up in 75 ms instead of
 * 162, inserted in 180 ms instead of 608 with 4 KiB pages and in 84 instead of 1,303 with a middle
 * mix's 64 KiB pages; the sort itself takes 25 ms.
 */
function inOrder(tags: readonly string[]): string {
  return JSON.stringify(tags.toSorted());
}

/**
 * Deliveries in the order of their recipients, those of one recipient in the order given (the
 * round's shuffle): the mailbox index is then written in order, a third cheaper than at random
 * for 100,000 recipients, and the rows' ids follow who receives, which says nothing of the
 * order packets arrived in that the shuffle did not already hide.
 */
function byRecipient<T extends { recipient: string }>(deliveries: readonly T[]): T[] {
  return deliveries.toSorted((a, b) =>
    a.recipient < b.recipient ? -1 : a.recipient > b.recipient ? 1 : 0
  );
}
