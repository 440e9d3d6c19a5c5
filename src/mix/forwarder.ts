/**
 * The outgoing stage of a mix: sends the outbox to the next mix one round at a time, in round
 * order, as one `ForwardBatch` call streaming authenticated chunks of bounded size; retries on
 * the connection policy while the next mix is down or refuses (rpc/policy.ts), and deletes a
 * round only once the call is acknowledged, every chunk stored (store-and-forward).
 *
 * @module
 */
import { batchProof, type PeerMac } from "../crypto/mod.ts";
import { type Logger, RateLimitedLog } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import {
  type ForwardBatchRequest,
  logRetry,
  type MixServerCalls,
  type PackedChunk,
  retry,
  RETRY_LOG_INTERVAL_MS,
  Stopped,
} from "../rpc/mod.ts";
import { nowMs } from "../round_clock.ts";
import type { RoundRecord } from "./processor.ts";
import type { MixStore } from "./store.ts";

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** This mix's id, named in the batch. */
  readonly id: string;
  /** Id of the next mix (for logs). */
  readonly nextId: string;
  readonly store: MixStore;
  readonly stub: MixServerCalls;
  readonly mac: PeerMac;
  /** Public key of the next mix. */
  readonly nextPublicKey: () => Promise<Uint8Array>;
  readonly metrics: Metrics<RoundRecord>;
  readonly logger: Logger;
  /** Deadline of one attempt, connecting included (see rpc/limits.ts forwardTimeoutMs). */
  readonly timeoutMs: number;
  /** Told, with every acknowledged batch, the rounds waiting in the next mix and after it
   * (see pacer.ts). */
  readonly onWaitingAfter?: (rounds: number) => void;
}

/** Sends the outbox to the next mix until stopped. */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #log: RateLimitedLog;
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  readonly #done: Promise<void>;

  /** Starts forwarding whatever the outbox holds. */
  constructor(options: ForwarderOptions) {
    this.#options = options;
    this.#log = new RateLimitedLog(options.logger, { intervalMs: RETRY_LOG_INTERVAL_MS });
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
      if (!(await this.#send(batch.round, batch.chunks, signal))) {
        logger.info("stopped with a round unsent", { round: batch.round });
      } else if (!(await this.#forwarded(batch.round, signal))) {
        logger.info("stopped with a forwarded round still in the outbox", { round: batch.round });
      }
    }
  }

  /**
   * Takes an acknowledged round out of the outbox; a write that fails (a full disk) is tried
   * again, never the send: the next mix has the round. The first attempt is made whatever the
   * signal (a round acknowledged while the mix stops is done with); false when stopped during
   * the retries: the round is then sent again after a restart, and the next mix answers it as a
   * duplicate.
   */
  async #forwarded(round: number, signal: AbortSignal): Promise<boolean> {
    const { store, metrics } = this.#options;
    try {
      await retry(() => Promise.try(() => store.forwarded(round)), {
        signal,
        firstAttemptWhenStopped: true,
        onFailure: (failure) => {
          metrics.count("forward.outbox_retries");
          logRetry(this.#log, "removing a forwarded round from the outbox", failure, { round });
        },
      });
      return true;
    } catch (error) {
      if (error instanceof Stopped) return false;
      throw error;
    }
  }

  /** The round's chunks (as the outbox keeps them), each authenticated to the next mix. */
  #sign(round: number, parts: PackedChunk[], nextKey: Uint8Array): ForwardBatchRequest[] {
    return parts.map(({ packed, packetBytes }, chunk) => {
      const request: ForwardBatchRequest = {
        round,
        packets: [],
        packed,
        packet_bytes: packetBytes,
        mix_id: this.#options.id,
        mac: new Uint8Array(),
        chunk,
        chunks: parts.length,
      };
      request.mac = this.#options.mac.sign(nextKey, ...batchProof(request));
      return request;
    });
  }

  /** Sends one round until acknowledged; false when stopped first. */
  async #send(round: number, parts: PackedChunk[], signal: AbortSignal): Promise<boolean> {
    const o = this.#options;
    const started = performance.now();
    let chunks: ForwardBatchRequest[] | undefined;
    let attempts = 0;
    let answer: { rounds_waiting?: number } | undefined;
    try {
      // One call streams every chunk; after a failure the whole call is made again (the next
      // mix stores each chunk once, however often it arrives). Never given up: the batch holds
      // packets acknowledged to their senders, so a refusal is retried slowly until its cause
      // is fixed.
      await retry(async (attempt) => {
        attempts = attempt;
        chunks ??= this.#sign(round, parts, await o.nextPublicKey());
        // Not cancelled on stop (see Sender#send): a stop waits for the attempt in flight,
        // which waits at most CONNECT_WAIT_MS for a next mix that is down.
        answer = await o.stub.forwardBatch(chunks, { timeoutMs: o.timeoutMs });
      }, {
        signal,
        reconnected: (untilMs) => o.stub.reconnected(untilMs),
        onFailure: (failure) => {
          o.metrics.count("forward.retries");
          if (failure.kind === "permanent") o.metrics.count("forward.refused");
          logRetry(this.#log, "forward", failure, { next: o.nextId, round });
        },
      });
    } catch (error) {
      if (error instanceof Stopped) return false;
      throw error;
    }
    if (answer?.rounds_waiting !== undefined) o.onWaitingAfter?.(answer.rounds_waiting);
    const forwardMs = Math.round((performance.now() - started) * 1000) / 1000;
    o.metrics.record({
      event: "forward",
      round,
      forward_ms: forwardMs,
      attempts,
      acked_ms: nowMs(),
    });
    if (attempts > 1) o.logger.info("next mix is back", { next: o.nextId, round, attempts });
    return true;
  }
}
