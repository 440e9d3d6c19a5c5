/**
 * The last mix's mailboxes as their owners see them. A fetch must prove the client's key with a
 * fresh, strictly increasing timestamp; it waits until the round it names is stored, deletes
 * what the response it acknowledges carried, and returns exactly `fetch_size` packets of one
 * length, real ones first and then padding, with a notice sealed to the owner. Every client's
 * fetch of a round is answered at the same moment with the same number of bytes, so an
 * observer of the last mix's links learns nothing from them but who is online.
 *
 * @module
 */
import { type KeyDirectory, type PeerMac, pollProof, type SealedBox } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";
import { encodeNotice, mailboxPadding, TOKEN_BYTES } from "../onion/mod.ts";
import type { PollMessagesRequest, PollMessagesResponse } from "../rpc/mod.ts";
import { verifyPeer } from "./_verify.ts";
import type { RoundRecord } from "./processor.ts";
import { FRESHNESS_MS } from "./registry.ts";
import type { MixStore } from "./store.ts";

/** Options of {@link Mailboxes}. */
export interface MailboxOptions {
  readonly store: MixStore;
  readonly box: SealedBox;
  readonly mac: PeerMac;
  readonly keys: KeyDirectory;
  /** Client id → its configured address (the mailbox it owns). */
  readonly clients: ReadonlyMap<string, string>;
  /** Packets every fetch returns. */
  readonly fetchSize: number;
  /** Bytes of message a packet carries (sizes the padding). */
  readonly payloadSize: number;
  /** Longest wait for a round not stored yet. */
  readonly holdMs: number;
  readonly metrics: Metrics<RoundRecord>;
}

/** Authenticated, uniform access to mailboxes. */
export class Mailboxes {
  readonly #o: MailboxOptions;
  #stored: number;
  readonly #waiters = new Set<{ round: number; wake: () => void }>();

  /** Creates the fetch handler over the store. */
  constructor(options: MailboxOptions) {
    this.#o = options;
    this.#stored = options.store.lastProcessed();
  }

  /** Tells the mailboxes that `round` is stored: fetches waiting for it are answered. */
  stored(round: number): void {
    this.#stored = Math.max(this.#stored, round);
    for (const waiter of [...this.#waiters]) if (waiter.round <= this.#stored) waiter.wake();
  }

  /**
   * Answers a fetch once the round it waits for is stored (or after the hold, or when `signal`
   * aborts, e.g. the mix stops).
   *
   * @throws {MixnetError} permission-denied when the proof is missing, wrong, stale or replayed.
   */
  async poll(request: PollMessagesRequest, signal?: AbortSignal): Promise<PollMessagesResponse> {
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
    await this.#until(request.round, signal);
    if (signal?.aborted) {
      throw new MixnetError("PollMessages cancelled: the mix is stopping, fetch again later", {
        status: "unavailable",
      });
    }
    return this.#fetch(id, address, request.ack);
  }

  /** Resolves once `round` is stored, after the hold, or when `signal` aborts. */
  #until(round: number, signal?: AbortSignal): Promise<void> {
    if (round <= this.#stored || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { round, wake: () => {} };
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(waiter);
        resolve();
      };
      waiter.wake = done;
      const timer = setTimeout(done, this.#o.holdMs);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiters.add(waiter);
    });
  }

  async #fetch(id: string, address: string, ack: Uint8Array): Promise<PollMessagesResponse> {
    const { store, box, fetchSize, payloadSize, metrics } = this.#o;
    const token = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
    const fetched = store.fetch(address, ack, fetchSize, token);
    const payloads = fetched.packets;
    const real = payloads.length;
    while (payloads.length < fetchSize) payloads.push(mailboxPadding(box, payloadSize));
    const notice = box.seal(
      encodeNotice({ real, pending: fetched.pending, dropped: fetched.dropped }),
      await this.#o.keys.get(id),
    );
    metrics.count("polls");
    return { payloads, token, round: fetched.round, notice };
  }

  #deny(reason: string, message: string): never {
    this.#o.metrics.count(`poll.denied.${reason}`);
    throw new MixnetError(message, { status: "permission-denied" });
  }
}
