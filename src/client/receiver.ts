/**
 * The client's side of its mailbox: polls the last mix with proof of its key, acknowledging
 * the previous poll's cursor; decrypts, drops dummies and what it cannot open (counted), and
 * keeps messages durably until they are handed to the user.
 *
 * @module
 */
import { pollProof } from "../crypto/mod.ts";
import { PacketError } from "../errors.ts";
import { openPayload, PayloadKind } from "../onion/mod.ts";
import { nowMs } from "../round_clock.ts";
import type { MixServerStub, PollMessagesRequest } from "../rpc/mod.ts";
import type { ClientContext } from "./context.ts";
import { messageDigest } from "./preparer.ts";

const decoder = new TextDecoder();
/** Most mailbox pages one user poll drains, so a flood cannot hold it forever. */
const MAX_PAGES = 1000;

/** Fetches and decrypts this client's mailbox. */
export class Receiver {
  readonly #ctx: ClientContext;
  readonly #stub: MixServerStub;
  readonly #lastMixKey: Uint8Array;
  #lastClock = 0;
  #queue: Promise<unknown> = Promise.resolve();

  /** Creates the receiver for the last mix's stub and key. */
  constructor(ctx: ClientContext, stub: MixServerStub, lastMixKey: Uint8Array) {
    this.#ctx = ctx;
    this.#stub = stub;
    this.#lastMixKey = lastMixKey;
  }

  /**
   * Drains the mailbox (the last mix answers in pages; each poll acknowledges the previous
   * page), then returns every message not yet handed over, in arrival order.
   */
  takeMessages(): Promise<string[]> {
    return this.#serialized(async () => {
      for (let page = 0; page < MAX_PAGES && await this.#fetch() > 0; page++);
      const pending = this.#ctx.store.pending();
      if (pending.length > 0) this.#ctx.store.handedOver(pending[pending.length - 1].id);
      return pending.map((p) => decoder.decode(p.message));
    });
  }

  /**
   * One mailbox poll; the fetched messages and the new cursor are stored together. Returns
   * how many packets the page held.
   */
  async #fetch(): Promise<number> {
    const { store, mac, id, self, box, keyPair, config, metrics, logger } = this.#ctx;
    const started = nowMs();
    this.#lastClock = Math.max(
      this.#lastClock + 1,
      Date.now(),
      Number(store.get("poll_clock_ms") ?? 0) + 1,
    );
    const request: PollMessagesRequest = {
      client_addr: self.address,
      client_id: id,
      timestamp_ms: this.#lastClock,
      ack_cursor: Number(store.get("cursor") ?? 0),
      mac: new Uint8Array(),
    };
    request.mac = mac.sign(this.#lastMixKey, ...pollProof(request));
    const response = await this.#stub.pollMessages(request);
    const messages: Uint8Array[] = [];
    for (const packet of response.payloads) {
      try {
        const payload = openPayload(box, packet, keyPair, config.payloadSize);
        if (payload.kind === PayloadKind.dummy) {
          metrics.count("received.dummy");
          continue;
        }
        messages.push(payload.message.slice());
        metrics.count("received.message");
      } catch (error) {
        if (!(error instanceof PacketError)) throw error;
        metrics.count("received.undecryptable");
        logger.warn("dropped a mailbox packet that does not open", { error: error.message });
      }
    }
    store.storeFetched(messages, response.cursor, this.#lastClock);
    metrics.record({
      event: "polled",
      poll_ms: round3(nowMs() - started),
      messages: messages.length,
    });
    for (const message of messages) {
      const preparedMs = store.takeSentToSelf(messageDigest(message));
      if (preparedMs !== undefined) {
        const latency = round3(nowMs() - preparedMs);
        metrics.record({ event: "delivered", latency_ms: latency });
        logger.info("message delivered", { latency_ms: latency });
      }
    }
    return response.payloads.length;
  }

  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(fn, fn);
    this.#queue = result.catch(() => {});
    return result;
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
