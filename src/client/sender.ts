/**
 * The client's round clock: exactly one packet per round, sent at epoch + (r+1)·duration — its
 * loop in the round drawn for it, else the head of the queue, else a dummy to the sink. Every
 * attempt is a fresh onion (new ephemeral keys all the way in), and messages, loops and dummies
 * follow one rule: a failed send is tried again within the round with a fresh packet, and one
 * that misses its round is given up (a message stays queued for the next round, built afresh
 * there). So neither a retry nor its bytes tell a mix what a packet carried.
 *
 * @module
 */
import { errorMessage, MixnetError } from "../errors.ts";
import { buildOnion, newMessageId, PayloadKind } from "../onion/mod.ts";
import { nowMs, type RoundClock, sleep } from "../round_clock.ts";
import { failureKind, grpc, retry, RpcError } from "../rpc/mod.ts";
import type { ClientContext } from "./context.ts";
import type { CascadeLink } from "./link.ts";
import type { LoopCover } from "./loops.ts";
import type { QueuedMessage } from "./store.ts";

const encoder = new TextEncoder();

/** What a round's packet carries. */
type Plan =
  | { readonly kind: "loop"; readonly id: Uint8Array }
  | { readonly kind: "message"; readonly queued: QueuedMessage }
  | { readonly kind: "dummy" };

/** Sends one packet per round until stopped. */
export class Sender {
  readonly #ctx: ClientContext;
  readonly #clock: RoundClock;
  readonly #link: CascadeLink;
  readonly #loops: LoopCover;
  readonly #onDenied: () => void;
  readonly #stop = new AbortController();
  #round: number;
  /** The round the first mix said to send in next, when it paused the ones before. */
  #resumeAt = 0;
  #done: Promise<void> = Promise.resolve();

  /**
   * Creates the sender; `onDenied` is called when the first mix no longer knows this client
   * (it re-registers).
   */
  constructor(
    ctx: ClientContext,
    clock: RoundClock,
    link: CascadeLink,
    loops: LoopCover,
    onDenied: () => void,
  ) {
    this.#ctx = ctx;
    this.#clock = clock;
    this.#link = link;
    this.#loops = loops;
    this.#onDenied = onDenied;
    this.#round = clock.roundAt(Date.now());
  }

  /** The round the next packet leaves in. */
  get nextRound(): number {
    return this.#round;
  }

  /**
   * The round a message leaves in when `ahead` messages are queued before it, if every send
   * is on time: the rounds of this client's loops are skipped.
   */
  roundFor(ahead: number): number {
    let round = this.#round;
    for (let left = ahead;; round++) {
      if (this.#loops.isLoopRound(round)) continue;
      if (left-- === 0) return round;
    }
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
      // Build the packet ahead of time, so the send itself is on time, but late in the round:
      // right after a send the mixes are busy with that round and need the cores.
      await sleep(sendTime - this.#clock.durationMs / 3 - Date.now(), signal);
      if (signal.aborted) break;
      let plan = this.#plan(round);
      let packet = this.#firstPacket(plan);
      await sleep(sendTime - Date.now(), signal);
      if (signal.aborted) break;
      // A message queued since then still leaves in this round, in the dummy's place: its
      // onion was built when it was prepared, so the send stays on time.
      if (plan.kind === "dummy") {
        const late = this.#plan(round);
        if (late.kind === "message" && late.queued.attempts === 0) {
          plan = late;
          packet = this.#firstPacket(late);
        }
      }
      await this.#send(round, plan, packet);
      const current = this.#clock.roundAt(Date.now());
      if (current > round + 1) {
        this.#ctx.metrics.count("rounds.missed", current - round - 1);
        this.#ctx.logger.warn("fell behind the round clock", { missed: current - round - 1 });
      }
      this.#round = Math.max(round + 1, current, this.#resumeAt);
    }
  }

  #plan(round: number): Plan {
    if (this.#loops.isLoopRound(round)) return { kind: "loop", id: newMessageId() };
    const { store, metrics, logger } = this.#ctx;
    for (let queued = store.head(); queued; queued = store.head()) {
      if (queued.attempts === 0 || queued.rebuild) return { kind: "message", queued };
      // Queued by a version that kept only the onion, and tried once: sending the same bytes
      // again would let the first mix recognise a retry, so the message is given up.
      store.dequeue(queued.id);
      metrics.count("messages.abandoned");
      logger.warn("a message queued by an older version cannot be built afresh: given up");
    }
    return { kind: "dummy" };
  }

  /**
   * The first attempt's packet: a queued message's own onion (built when it was prepared) the
   * first time it is tried, a fresh one from then on.
   */
  #firstPacket(plan: Plan): Uint8Array {
    if (plan.kind !== "message" || plan.queued.attempts > 0) return this.#build(plan)!;
    // Recorded before the packet leaves: after a crash it is never sent a second time.
    this.#ctx.store.attempted(plan.queued.id);
    return plan.queued.packet;
  }

  /**
   * A fresh onion for `plan`: new ephemeral keys in every layer. Undefined for a message queued
   * by an older version, which kept only its first onion.
   */
  #build(plan: Plan): Uint8Array | undefined {
    const { config, self, keyPair, box, route } = this.#ctx;
    const common = { route, payloadSize: config.payloadSize };
    switch (plan.kind) {
      case "dummy":
        return buildOnion(box, {
          ...common,
          message: encoder.encode(config.dummyPayload),
          kind: PayloadKind.dummy,
          recipient: null,
        });
      case "loop":
        return buildOnion(box, {
          ...common,
          message: new Uint8Array(),
          kind: PayloadKind.loop,
          id: plan.id,
          recipient: { address: self.address, publicKey: keyPair.publicKey },
        });
      case "message": {
        const rebuild = plan.queued.rebuild;
        if (!rebuild) return undefined;
        return buildOnion(box, {
          ...common,
          message: rebuild.message,
          kind: PayloadKind.message,
          id: rebuild.messageId,
          recipient: { address: rebuild.recipientAddress, publicKey: rebuild.recipientKey },
        });
      }
    }
  }

  /**
   * Sends the round's packet on the retry policy, within the round: each retry is a fresh
   * packet, a permanent refusal ends the round at once, and a send still failing at the round's
   * deadline misses the round.
   */
  async #send(round: number, plan: Plan, first: Uint8Array): Promise<void> {
    const { metrics, logger } = this.#ctx;
    const signal = this.#stop.signal;
    const deadline = this.#clock.sendTime(round) + this.#ctx.config.roundTimeout * 1000;
    const started = nowMs();
    if (plan.kind === "loop") this.#loops.sending(plan.id, round);
    let failed: unknown;
    let nextRound: number | undefined;
    try {
      await retry(async (attempt) => {
        const packet = attempt === 1 ? first : this.#build(plan);
        // A message queued by an older version has no fresh packet: it misses the round.
        if (!packet) throw new NoFreshPacket(failed);
        try {
          // A slow answer is still worth waiting for: a late packet is refused, never lost.
          // Not cancelled on stop: a cancelled stream followed by the peer's shutdown can
          // crash Deno 2.9.6 (denoland/deno#36788), and the call is bounded anyway.
          const answer = await this.#link.forward(round, packet, {
            timeoutMs: Math.max(2000, deadline - Date.now()),
          });
          nextRound = answer.next_round || undefined;
        } catch (error) {
          // An earlier attempt of this round reached the mix and only its answer was lost.
          const stored = error instanceof RpcError && error.code === grpc.status.ALREADY_EXISTS;
          if (!(stored && attempt > 1)) throw (failed = error);
        }
      }, {
        signal,
        deadlineMs: deadline,
        permanent: "throw",
        onFailure: ({ retryInMs }) => {
          if (retryInMs !== undefined) metrics.count("sends.retried");
        },
      });
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof RpcError && error.code === grpc.status.PERMISSION_DENIED) {
        this.#onDenied();
      }
      // The same words whatever the packet carried: a message stays queued for the next
      // round, where it is built afresh.
      const cause = error instanceof NoFreshPacket ? error.cause : error;
      if (plan.kind === "loop") this.#loops.missed(plan.id);
      metrics.count("sends.missed");
      logger.warn("packet missed its round", {
        round,
        failure: failureKind(cause),
        error: errorMessage(cause),
      });
      return;
    }
    this.#sent(round, plan, started);
    // While the cascade is behind, the first mix pauses rounds: every client skips them.
    if (nextRound !== undefined && nextRound > round + 1) this.#resumeAt = nextRound;
  }

  #sent(round: number, plan: Plan, started: number): void {
    const { store, metrics, logger } = this.#ctx;
    if (plan.kind === "message") store.dequeue(plan.queued.id);
    if (plan.kind === "loop") this.#loops.sent(plan.id);
    metrics.count("sent");
    metrics.record({
      event: "sent",
      round,
      send_ms: Math.round((nowMs() - started) * 1000) / 1000,
    });
    // What the packet carried is for debugging only: operators run at info.
    logger.debug(`${plan.kind} sent`, { round });
  }
}

/** A retry for which no fresh packet can be built: the round is missed with the earlier error. */
class NoFreshPacket extends MixnetError {
  constructor(cause: unknown) {
    super("No fresh packet for a retry", { status: "failed-precondition", cause });
  }
}
