/**
 * The client's side of its mailbox. It fetches on its own, every `fetch_every` rounds, whether
 * or not its user asks: each fetch names the round it waits for (the last mix answers every
 * client's fetch of a round when it has stored that round) and acknowledges the response
 * before it. It opens the real packets the sealed notice counts, keeps new messages durably
 * until they are handed to the user (a message that arrives twice is kept once), brings loops
 * home, and says when the mailbox dropped messages for want of room. The user's poll reads
 * what was fetched; it never calls the mix itself.
 *
 * @module
 */
import { CryptoError, errorMessage, PacketError } from "../errors.ts";
import { RateLimitedLog } from "../log.ts";
import { decodeNotice, type FetchNotice, openPayload, PayloadKind } from "../onion/mod.ts";
import { nowMs, type RoundClock } from "../round_clock.ts";
import {
  fetchHoldMs,
  logRetry,
  type PollMessagesResponse,
  retry,
  RETRY_LOG_INTERVAL_MS,
  Stopped,
} from "../rpc/mod.ts";
import type { ClientContext } from "./context.ts";
import type { CascadeLink } from "./link.ts";
import type { LoopCover } from "./loops.ts";

const decoder = new TextDecoder();

/** Fetches and decrypts this client's mailbox on the fetch cadence. */
export class Receiver {
  readonly #ctx: ClientContext;
  readonly #clock: RoundClock;
  readonly #link: CascadeLink;
  readonly #loops: LoopCover;
  readonly #log: RateLimitedLog;
  readonly #stop = new AbortController();
  #pollClock: number;
  #done: Promise<void> = Promise.resolve();

  /** Creates the receiver; it fetches through `link`. */
  constructor(ctx: ClientContext, clock: RoundClock, link: CascadeLink, loops: LoopCover) {
    this.#ctx = ctx;
    this.#clock = clock;
    this.#link = link;
    this.#loops = loops;
    this.#log = new RateLimitedLog(ctx.logger, { intervalMs: RETRY_LOG_INTERVAL_MS });
    this.#pollClock = Number(ctx.store.get("poll_clock_ms") ?? 0);
  }

  /** Starts fetching. */
  start(): void {
    this.#done = this.#run();
  }

  /** Stops after the fetch in flight (a held fetch is abandoned: its packets are sent again). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }

  /** Every message fetched and not yet handed to the user, in arrival order. */
  takeMessages(): string[] {
    const { store } = this.#ctx;
    const pending = store.pending();
    if (pending.length > 0) store.handedOver(pending[pending.length - 1].id);
    return pending.map((p) => decoder.decode(p.message));
  }

  async #run(): Promise<void> {
    const { metrics, config } = this.#ctx;
    const every = config.fetchEvery;
    const signal = this.#stop.signal;
    const last = config.mixServers[config.mixServers.length - 1].id;
    // Every client waits for the same rounds: multiples of fetch_every.
    const cadence = (round: number) => Math.ceil(round / every) * every;
    let round = cadence(this.#clock.roundAt(Date.now()));
    while (!signal.aborted) {
      let stored: number;
      try {
        stored = await retry(() => this.#fetch(round), {
          signal,
          reconnected: (untilMs) => this.#link.reconnected("last", untilMs),
          onFailure: (failure) => {
            metrics.count("fetch.failed");
            logRetry(this.#log, "mailbox fetch", failure, { mix: last, round });
          },
        });
      } catch (error) {
        if (error instanceof Stopped) break;
        throw error;
      }
      // Wait for the next round on the cadence after the last one stored; a fetch answered on
      // the hold, before its round was stored, waits for the same round again.
      if (stored >= round) round = cadence(stored + 1);
    }
  }

  /** One fetch; returns the last round the mix has stored. */
  async #fetch(round: number): Promise<number> {
    const { store, config, metrics } = this.#ctx;
    const started = nowMs();
    this.#pollClock = Math.max(this.#pollClock + 1, Date.now());
    const response = await this.#link.fetch(
      { round, ack: store.fetchToken(), timestampMs: this.#pollClock },
      { timeoutMs: fetchHoldMs(config) + 10_000, signal: this.#stop.signal },
    );
    const notice = this.#notice(response);
    const messages: { id: Uint8Array; message: Uint8Array }[] = [];
    const loops: Uint8Array[] = [];
    for (const packet of response.payloads.slice(0, notice?.real ?? response.payloads.length)) {
      const payload = this.#open(packet, notice === undefined);
      if (payload?.kind === PayloadKind.message) {
        messages.push({ id: payload.id.slice(), message: payload.message.slice() });
      } else if (payload?.kind === PayloadKind.loop) loops.push(payload.id.slice());
    }
    const droppedBefore = Number(store.get("dropped_total") ?? 0);
    const dropped = notice?.dropped ?? droppedBefore;
    const done = this.#loops.fetched(loops, response.round, notice?.pending ?? 1);
    store.storeFetch({
      messages,
      loopsDone: done,
      token: response.token,
      pollClockMs: this.#pollClock,
      droppedTotal: dropped,
    });
    if (dropped > droppedBefore) {
      metrics.count("mailbox.dropped", dropped - droppedBefore);
      this.#ctx.logger.warn(
        "the mailbox at the last mix was full: the oldest messages were dropped there",
        { dropped: dropped - droppedBefore },
      );
    }
    metrics.count("fetched");
    metrics.record({ event: "fetched", round, fetch_ms: round3(nowMs() - started) });
    return response.round;
  }

  /** The response's sealed notice, or undefined (counted) when it does not open. */
  #notice(response: PollMessagesResponse): FetchNotice | undefined {
    try {
      return decodeNotice(this.#ctx.box.open(response.notice, this.#ctx.keyPair));
    } catch (error) {
      this.#ctx.metrics.count("fetch.bad_notice");
      this.#ctx.logger.warn("a fetch's notice does not open: every packet is tried", {
        error: errorMessage(error),
      });
      return undefined;
    }
  }

  /**
   * Opens one packet. Without a notice, padding is expected among them and a packet that does
   * not open is skipped quietly; otherwise it is counted and reported.
   */
  #open(packet: Uint8Array, paddingExpected: boolean) {
    const { box, keyPair, config, metrics, logger } = this.#ctx;
    try {
      return openPayload(box, packet, keyPair, config.payloadSize);
    } catch (error) {
      if (!(error instanceof PacketError || error instanceof CryptoError)) throw error;
      if (!paddingExpected) {
        metrics.count("received.undecryptable");
        logger.warn("dropped a mailbox packet that does not open", { error: error.message });
      }
      return undefined;
    }
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
