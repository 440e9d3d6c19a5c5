/**
 * The outgoing stage of a mix: sends the outbox to the next mix one round at a time, in round
 * order, as one `ForwardBatch` call streaming authenticated chunks of bounded size; retries with
 * exponential backoff while the next mix is down, and deletes a round only once the call is
 * acknowledged, every chunk stored (store-and-forward).
 *
 * @module
 */
import { batchProof, type PeerMac } from "../crypto/mod.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { chunkBatch, type ForwardBatchRequest, type MixServerStub } from "../rpc/mod.ts";
import { sleep } from "../round_clock.ts";
import type { RoundRecord } from "./processor.ts";
import type { MixStore } from "./store.ts";

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** This mix's id, named in the batch. */
  readonly id: string;
  /** Id of the next mix (for logs). */
  readonly nextId: string;
  readonly store: MixStore;
  readonly stub: MixServerStub;
  readonly mac: PeerMac;
  /** Public key of the next mix. */
  readonly nextPublicKey: () => Promise<Uint8Array>;
  readonly metrics: Metrics<RoundRecord>;
  readonly logger: Logger;
  /** Backoff bounds in ms; defaults 50 and 5000. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** Sends the outbox to the next mix until stopped. */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  readonly #done: Promise<void>;

  /** Starts forwarding whatever the outbox holds. */
  constructor(options: ForwarderOptions) {
    this.#options = options;
    this.#done = this.#run();
  }

  /** Tells the forwarder a round was added to the outbox. */
  wake(): void {
    this.#wake?.();
  }

  /** Stops after the call in flight; unsent rounds stay in the outbox. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#done;
  }

  async #run(): Promise<void> {
    const { store, logger } = this.#options;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const batch = store.oldestOutgoing();
      if (!batch) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      await this.#send(batch.round, batch.packets, signal);
      if (!signal.aborted) store.forwarded(batch.round);
      else logger.info("stopped with a round unsent", { round: batch.round });
    }
  }

  async #send(round: number, packets: Uint8Array[], signal: AbortSignal): Promise<void> {
    const o = this.#options;
    const started = performance.now();
    const parts = chunkBatch(packets);
    const nextKey = await o.nextPublicKey();
    const chunks = parts.map((packets, chunk) => {
      const request: ForwardBatchRequest = {
        round,
        packets,
        mix_id: o.id,
        mac: new Uint8Array(),
        chunk,
        chunks: parts.length,
      };
      request.mac = o.mac.sign(nextKey, ...batchProof(request));
      return request;
    });
    let backoff = o.minBackoffMs ?? 50;
    let attempts = 1;
    // One call streams every chunk; after a failure the whole call is made again (the next
    // mix stores each chunk once, however often it arrives).
    while (!signal.aborted) {
      try {
        await o.stub.forwardBatch(chunks, { timeoutMs: 30_000 });
        break;
      } catch (error) {
        // Never give up: the batch holds packets acknowledged to their senders.
        if (attempts === 1 || attempts % 20 === 0) {
          o.logger.warn("forward failed, retrying", {
            next: o.nextId,
            round,
            attempt: attempts,
            error: (error as Error).message,
          });
        }
        attempts++;
        o.metrics.count("forward.retries");
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 5000);
      }
    }
    if (signal.aborted) return;
    const forwardMs = Math.round((performance.now() - started) * 1000) / 1000;
    o.metrics.record({ event: "forward", round, forward_ms: forwardMs, attempts });
    if (attempts > 1) o.logger.info("next mix is back", { next: o.nextId, round, attempts });
  }
}
