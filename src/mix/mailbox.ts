/**
 * The last mix's mailboxes as their owners see them: a poll must prove the client's key with a
 * fresh, strictly increasing timestamp; it deletes what the previous poll returned (the
 * acknowledged cursor) and returns what is pending.
 *
 * @module
 */
import { type KeyDirectory, type PeerMac, pollProof } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import type { PollMessagesRequest, PollMessagesResponse } from "../rpc/mod.ts";
import { verifyPeer } from "./_verify.ts";
import type { RoundRecord } from "./processor.ts";
import { FRESHNESS_MS } from "./registry.ts";
import type { MixStore } from "./store.ts";

/** Options of {@link Mailboxes}. */
export interface MailboxOptions {
  readonly store: MixStore;
  readonly mac: PeerMac;
  readonly keys: KeyDirectory;
  /** Client id → its configured address (the mailbox it owns). */
  readonly clients: ReadonlyMap<string, string>;
  /** Most bytes of packets one poll response carries. */
  readonly maxResponseBytes: number;
  readonly metrics: Metrics<RoundRecord>;
}

/** Authenticated access to mailboxes. */
export class Mailboxes {
  readonly #o: MailboxOptions;

  /** Creates the poll handler over the store. */
  constructor(options: MailboxOptions) {
    this.#o = options;
  }

  /**
   * Answers a poll.
   *
   * @throws {MixnetError} permission-denied when the proof is missing, wrong, stale or replayed.
   */
  async poll(request: PollMessagesRequest): Promise<PollMessagesResponse> {
    const { client_id: id, client_addr: address } = request;
    if (!id || request.mac.length === 0) {
      this.#deny(
        "no-proof",
        `PollMessages for ${address || "(no address)"} refused: authentication is required ` +
          "(client_id, timestamp_ms and mac proving the client's key); polling by client_addr " +
          "alone is not served",
      );
    }
    if (this.#o.clients.get(id) !== address) {
      this.#deny(
        "wrong-owner",
        `PollMessages refused: ${address} is not the mailbox of client ${JSON.stringify(id)}`,
      );
    }
    if (!(Math.abs(Date.now() - Number(request.timestamp_ms)) <= FRESHNESS_MS)) {
      this.#deny(
        "stale",
        `PollMessages of ${id} refused: timestamp is more than ${
          FRESHNESS_MS / 1000
        } s from this mix's clock`,
      );
    }
    if (!await verifyPeer(this.#o.mac, this.#o.keys, id, request.mac, pollProof(request))) {
      this.#deny("bad-mac", `PollMessages of ${id} refused: proof of its key does not verify`);
    }
    if (!this.#o.store.advancePollClock(id, Number(request.timestamp_ms))) {
      this.#deny(
        "replayed",
        `PollMessages of ${id} refused: timestamp is not newer than its last poll (replayed proof?)`,
      );
    }
    const entries = this.#o.store.poll(
      address,
      Number(request.ack_cursor),
      this.#o.maxResponseBytes,
    );
    this.#o.metrics.count("polls");
    return {
      payloads: entries.map((e) => e.packet),
      cursor: entries.length ? entries[entries.length - 1].id : Number(request.ack_cursor),
    };
  }

  #deny(reason: string, message: string): never {
    this.#o.metrics.count(`poll.denied.${reason}`);
    throw new MixnetError(message, { status: "permission-denied" });
  }
}
