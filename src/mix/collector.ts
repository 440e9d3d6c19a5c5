/**
 * The first mix's intake: accepts at most one authenticated packet per registered client per
 * round, persists it before acknowledging it, and closes each round, in order, when every
 * registered client has sent or when its deadline (send time + `round_timeout`) passes. A
 * missing or slow client never stalls the network.
 *
 * @module
 */
import { forwardProof, type KeyDirectory, type PeerMac } from "../crypto/mod.ts";
import { errorMessage, type ErrorStatus, MixnetError } from "../errors.ts";
import { type Logger, RateLimitedLog } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type ForwardMessageRequest, RETRY_LOG_INTERVAL_MS } from "../rpc/mod.ts";
import { nowMs, type RoundClock } from "../round_clock.ts";
import { verifyPeer } from "./_verify.ts";
import type { Pacer } from "./pacer.ts";
import type { RoundRecord } from "./processor.ts";
import { type InboxRow, InboxWriter } from "./inbox_writer.ts";
import type { Registry } from "./registry.ts";
import type { MixStore } from "./store.ts";

/** How many closed rounds the collector remembers the senders of. */
const RECENT_CLOSED_ROUNDS = 64;

/** Options of {@link Collector}. */
export interface CollectorOptions {
  readonly store: MixStore;
  readonly registry: Registry;
  readonly mac: PeerMac;
  readonly keys: KeyDirectory;
  /** The only valid packet length at the first mix. */
  readonly packetSize: number;
  /** How long past a round's send time late packets are still accepted. */
  readonly roundTimeoutMs: number;
  /**
   * Called with the packets of a round stored together (one transaction), before any later
   * round closes; the collector is done with them: their buffers may be taken.
   */
  readonly onStored?: (round: number, packets: readonly InboxRow[]) => void;
  /** Called with each round as it closes, in order. */
  readonly onClosed: (round: number) => void;
  /** Stretches rounds when the cascade is behind (see pacer.ts); none: every round runs. */
  readonly pacer?: Pacer;
  /** Most bytes of packets held in rounds not yet processed (backpressure). */
  readonly maxQueuedBytes: number;
  readonly metrics: Metrics<RoundRecord>;
  readonly logger: Logger;
}

/** How soon a round whose close could not be stored (a full disk) is closed again. */
const CLOSE_RETRY_MS = 100;

/** Accepts client packets and closes rounds. */
export class Collector {
  readonly #o: CollectorOptions;
  #lastClosed: number;
  readonly #senders = new Map<number, Set<string>>();
  /**
   * Who sent in the last closed rounds, so that a client retrying a packet whose answer was
   * lost learns that it was stored (ALREADY_EXISTS) rather than that it came too late.
   */
  readonly #closedSenders = new Map<number, ReadonlySet<string>>();
  /** Bytes accepted per round not yet processed. */
  readonly #queued = new Map<number, number>();
  #queuedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #clock: RoundClock | undefined;
  #stopped = false;
  readonly #inbox: InboxWriter;
  readonly #log: RateLimitedLog;

  /** Restores the last closed round and the packets already received from the store. */
  constructor(options: CollectorOptions) {
    this.#o = options;
    this.#log = new RateLimitedLog(options.logger, { intervalMs: RETRY_LOG_INTERVAL_MS });
    this.#inbox = new InboxWriter(options.store, options.onStored);
    this.#lastClosed = Number(options.store.getMeta("last_closed") ?? -1);
    for (const round of options.store.inboxRounds()) {
      if (round > this.#lastClosed) {
        this.#senders.set(round, new Set(options.store.inboxSlots(round)));
      }
    }
  }

  /** The last round closed (-1 before the first). */
  get lastClosed(): number {
    return this.#lastClosed;
  }

  /**
   * Starts closing rounds on `clock`. Rounds closed before a restart but not yet processed
   * are handed on first; rounds whose deadline passed while the mix was down are closed if
   * they hold packets and skipped if empty.
   */
  start(clock: RoundClock): void {
    this.#clock = clock;
    for (const round of this.#o.store.inboxRounds()) {
      if (round <= this.#lastClosed) this.#o.onClosed(round);
    }
    const lastDue = this.#lastDue(Date.now());
    for (const round of [...this.#senders.keys()].sort((a, b) => a - b)) {
      if (round <= lastDue) this.#close(round);
    }
    if (lastDue > this.#lastClosed) this.#markClosed(lastDue);
    this.#schedule();
  }

  /** Releases the bytes of a round once it is processed (committed). */
  processed(round: number): void {
    this.#queuedBytes -= this.#queued.get(round) ?? 0;
    this.#queued.delete(round);
  }

  /** Stops closing rounds; open rounds stay in the inbox for the next start. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#inbox.flush();
  }

  /**
   * Accepts a client's packet for a round, durably; returns the round the client sends in next
   * (later than the next one while the cascade is behind).
   *
   * @throws {MixnetError} with a precise status for every reason a packet is refused.
   */
  async accept(request: ForwardMessageRequest): Promise<number> {
    const { registry } = this.#o;
    const clock = this.#clock;
    const id = request.client_id;
    const round = request.round;
    if (!clock) {
      this.#refuse(
        "not-started",
        "failed-precondition",
        `Packet refused: rounds have not started (${registry.size} clients registered)`,
      );
    }
    if (!registry.has(id)) {
      this.#refuse(
        "unregistered",
        "permission-denied",
        `Packet refused: ${JSON.stringify(id)} is not a registered client`,
      );
    }
    if (!await verifyPeer(this.#o.mac, this.#o.keys, id, request.mac, forwardProof(request))) {
      this.#refuse(
        "bad-mac",
        "permission-denied",
        `Packet from ${id} refused: its MAC does not verify`,
      );
    }
    if (request.payload.length !== this.#o.packetSize) {
      this.#refuse(
        "wrong-size",
        "invalid-argument",
        `Packet from ${id} for round ${round} refused: expected ${this.#o.packetSize} bytes, got ${request.payload.length}`,
      );
    }
    const current = clock.roundAt(Date.now());
    if (!Number.isInteger(round) || round < 0) {
      this.#refuse(
        "bad-round",
        "invalid-argument",
        `Packet from ${id} refused: round ${round} is not a round number`,
      );
    }
    if (round <= this.#lastClosed) {
      if (this.#closedSenders.get(round)?.has(id)) this.#refuseDuplicate(id, round);
      this.#refuse(
        "closed-round",
        "failed-precondition",
        `Packet from ${id} refused: round ${round} is closed (current round ${current})`,
      );
    }
    if (this.#o.pacer?.isPaused(round)) {
      this.#refuse(
        "paused",
        "failed-precondition",
        `Packet from ${id} refused: round ${round} is paused while the cascade catches up; ` +
          "send in the round the last acknowledgement named",
      );
    }
    if (round > current + 1) {
      this.#refuse(
        "future-round",
        "out-of-range",
        `Packet from ${id} refused: round ${round} is too far ahead (current round ${current})`,
      );
    }
    if (this.#queuedBytes + request.payload.length > this.#o.maxQueuedBytes) {
      this.#refuse(
        "overloaded",
        "resource-exhausted",
        `Packet from ${id} refused: ${this.#queuedBytes} bytes are queued in unprocessed rounds (limit ${this.#o.maxQueuedBytes}); the first mix is overloaded, send again next round`,
      );
    }
    let senders = this.#senders.get(round);
    if (!senders) this.#senders.set(round, senders = new Set());
    if (senders.has(id)) this.#refuseDuplicate(id, round);
    // The client's place in the round is taken now, and the packet stored with the others
    // that arrive in this turn of the event loop (or before the round closes, whichever is
    // first); only then is it acknowledged.
    senders.add(id);
    const bytes = request.payload.length;
    this.#queued.set(round, (this.#queued.get(round) ?? 0) + bytes);
    this.#queuedBytes += bytes;
    const arrivedMs = nowMs();
    let stored: boolean;
    try {
      stored = await this.#inbox.add({ round, slot: id, packet: request.payload, arrivedMs });
    } catch (error) {
      senders.delete(id);
      this.#queued.set(round, (this.#queued.get(round) ?? 0) - bytes);
      this.#queuedBytes -= bytes;
      throw error;
    }
    if (!stored) this.#refuseDuplicate(id, round);
    this.#o.metrics.count("accepted");
    const next = this.#o.pacer?.nextRound(round) ?? round + 1;
    this.#closeDueOrRetry();
    return next;
  }

  #refuseDuplicate(id: string, round: number): never {
    this.#refuse(
      "duplicate",
      "already-exists",
      `Packet from ${id} refused: it already sent one in round ${round}`,
    );
  }

  #refuse(reason: string, status: ErrorStatus, message: string): never {
    this.#o.metrics.count(`rejected.${reason}`);
    throw new MixnetError(message, { status });
  }

  /** The last round whose deadline has passed at `now`. */
  #lastDue(now: number): number {
    const clock = this.#clock!;
    return clock.roundAt(now - this.#o.roundTimeoutMs) - 1;
  }

  #closeDue(): void {
    if (!this.#clock || this.#stopped) return;
    const lastDue = this.#lastDue(Date.now());
    for (;;) {
      const next = this.#lastClosed + 1;
      const senders = this.#senders.get(next)?.size ?? 0;
      const complete = this.#o.registry.size > 0 && senders >= this.#o.registry.size;
      if (next > lastDue && !complete) break;
      this.#close(next);
    }
    this.#schedule();
  }

  #close(round: number): void {
    // Packets accepted for the round and not yet stored go in first.
    this.#inbox.flush();
    this.#markClosed(round);
    this.#closedSenders.set(round, this.#senders.get(round) ?? new Set());
    this.#closedSenders.delete(round - RECENT_CLOSED_ROUNDS);
    this.#senders.delete(round);
    // A paused round holds nothing (its packets were refused): nothing to process or cover.
    if (!this.#o.pacer?.isPaused(round)) this.#o.onClosed(round);
  }

  /** Stored first: a round whose close cannot be stored (a full disk) stays open. */
  #markClosed(round: number): void {
    this.#o.store.setMeta("last_closed", round);
    this.#lastClosed = round;
  }

  #schedule(): void {
    if (this.#stopped || !this.#clock) return;
    clearTimeout(this.#timer);
    const next = this.#lastClosed + 1;
    const deadline = this.#clock.sendTime(next) + this.#o.roundTimeoutMs;
    this.#timer = setTimeout(() => this.#closeDueOrRetry(), Math.max(0, deadline - Date.now()) + 1);
  }

  /** {@link #closeDue}, but a round that cannot be closed now (a full disk) is tried again soon. */
  #closeDueOrRetry(): void {
    try {
      this.#closeDue();
    } catch (error) {
      this.#o.metrics.count("rounds.close_failed");
      this.#log.error("cannot close round; trying again", {
        round: this.#lastClosed + 1,
        reason: errorMessage(error),
      });
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#closeDueOrRetry(), CLOSE_RETRY_MS);
    }
  }
}
