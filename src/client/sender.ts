/**
 * The client's round clock: exactly one packet per round, sent at epoch + (r+1)·duration —
 * the head of the queue, or a dummy to itself. A failed send is retried within the round; a
 * real message that missed its round leaves in the next; a dummy that missed is dropped.
 *
 * @module
 */
import { forwardProof } from "../crypto/mod.ts";
import { buildOnion, PayloadKind } from "../onion/mod.ts";
import { nowMs, type RoundClock, sleep } from "../round_clock.ts";
import { grpc, type MixServerStub, RpcError } from "../rpc/mod.ts";
import type { ClientContext } from "./context.ts";

const encoder = new TextEncoder();

/** Sends one packet per round until stopped. */
export class Sender {
  readonly #ctx: ClientContext;
  readonly #clock: RoundClock;
  readonly #stub: MixServerStub;
  readonly #firstMixKey: Uint8Array;
  readonly #onDenied: () => void;
  readonly #stop = new AbortController();
  #round: number;
  #done: Promise<void> = Promise.resolve();

  /**
   * Creates the sender; `onDenied` is called when the first mix no longer knows this client
   * (it re-registers).
   */
  constructor(
    ctx: ClientContext,
    clock: RoundClock,
    stub: MixServerStub,
    firstMixKey: Uint8Array,
    onDenied: () => void,
  ) {
    this.#ctx = ctx;
    this.#clock = clock;
    this.#stub = stub;
    this.#firstMixKey = firstMixKey;
    this.#onDenied = onDenied;
    this.#round = clock.roundAt(Date.now());
  }

  /** The round the next queued packet leaves in. */
  get nextRound(): number {
    return this.#round;
  }

  /** Starts the round loop. */
  start(): void {
    this.#done = this.#run();
  }

  /** Stops after the send in flight. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const round = this.#round;
      const sendTime = this.#clock.sendTime(round);
      // Build the dummy ahead of time, so the send itself is on time, but late in the round:
      // right after a send the mixes are busy with that round and need the cores.
      await sleep(sendTime - this.#clock.durationMs / 3 - Date.now(), signal);
      if (signal.aborted) break;
      const dummy = this.#ctx.store.head() ? undefined : this.#dummy();
      await sleep(sendTime - Date.now(), signal);
      if (signal.aborted) break;
      await this.#send(round, dummy);
      const current = this.#clock.roundAt(Date.now());
      if (current > round + 1) {
        this.#ctx.metrics.count("rounds.missed", current - round - 1);
        this.#ctx.logger.warn("fell behind the round clock", { missed: current - round - 1 });
      }
      this.#round = Math.max(round + 1, current);
    }
  }

  #dummy(): Uint8Array {
    const { config, self, keyPair, box, route } = this.#ctx;
    return buildOnion(box, {
      message: encoder.encode(config.dummyPayload),
      kind: PayloadKind.dummy,
      recipient: { address: self.address, publicKey: keyPair.publicKey },
      route,
      payloadSize: config.payloadSize,
    });
  }

  async #send(round: number, dummy: Uint8Array | undefined): Promise<void> {
    const { store, metrics, logger, mac, id } = this.#ctx;
    const head = store.head();
    const payload = head?.packet ?? dummy ?? this.#dummy();
    const kind = head ? "message" : "dummy";
    const request = { payload, round, client_id: id, mac: new Uint8Array() };
    request.mac = mac.sign(this.#firstMixKey, ...forwardProof(request));
    const deadline = this.#clock.sendTime(round) + this.#ctx.config.roundTimeout * 1000;
    const started = nowMs();
    let backoff = 20;
    for (;;) {
      try {
        await this.#stub.forwardMessage(request, {
          // A slow answer is still worth waiting for: a late packet is refused, never lost.
          timeoutMs: Math.max(2000, deadline - Date.now()),
        });
        if (head) store.dequeue(head.id);
        metrics.count(`sent.${kind}`);
        metrics.record({
          event: "sent",
          round,
          kind,
          send_ms: Math.round((nowMs() - started) * 1000) / 1000,
        });
        if (head) logger.info("message sent", { round });
        return;
      } catch (error) {
        const code = error instanceof RpcError ? error.code : undefined;
        const transient = error instanceof RpcError && error.transient;
        if (transient && Date.now() + backoff < deadline && !this.#stop.signal.aborted) {
          await sleep(backoff, this.#stop.signal);
          backoff *= 2;
          continue;
        }
        if (code === grpc.status.PERMISSION_DENIED) this.#onDenied();
        if (code !== grpc.status.ALREADY_EXISTS) {
          logger.warn(`${kind} missed its round`, { round, error: (error as Error).message });
        }
        // A real message stays queued for the next round; a late dummy has no use.
        metrics.count(head ? "messages.retried" : "dummies.dropped");
        return;
      }
    }
  }
}
