/**
 * PrepareMessage: validates the recipient and the message, builds the onion for its first
 * attempt at once (the measured preparation time) and queues it durably, with what a later
 * attempt needs to build a fresh one.
 *
 * @module
 */
import { decodePublicKey } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import { buildOnion, newMessageId, PayloadKind } from "../onion/mod.ts";
import { nowMs } from "../round_clock.ts";
import type { PrepareMessageRequest, PrepareMessageResponse } from "../rpc/mod.ts";
import type { ClientContext } from "./context.ts";

const encoder = new TextEncoder();

/** Builds and queues user messages. */
export class Preparer {
  readonly #ctx: ClientContext;
  readonly #roundFor: (ahead: number) => number;

  /**
   * Creates a preparer; `roundFor(ahead)` tells the round a message leaves in when `ahead`
   * messages are queued before it.
   */
  constructor(ctx: ClientContext, roundFor: (ahead: number) => number) {
    this.#ctx = ctx;
    this.#roundFor = roundFor;
  }

  /**
   * Validates, builds and queues a message.
   *
   * @throws {MixnetError} invalid-argument for an unknown recipient or a malformed key,
   * out-of-range for a message longer than `payload_size`.
   */
  prepare(request: PrepareMessageRequest): PrepareMessageResponse {
    const { config, store } = this.#ctx;
    const recipient = config.clients.find((c) => c.address === request.recipient_addr);
    if (!recipient) {
      throw new MixnetError(
        `Unknown recipient address ${JSON.stringify(request.recipient_addr)}: not a client in ` +
          `the config (known: ${config.clients.map((c) => c.address).join(", ")})`,
        { status: "invalid-argument" },
      );
    }
    const publicKey = decodePublicKey(request.recipient_pubkey, "recipient_pubkey");
    const message = encoder.encode(request.message);
    const messageId = newMessageId();
    const started = nowMs();
    const packet = buildOnion(this.#ctx.box, {
      message,
      kind: PayloadKind.message,
      id: messageId,
      recipient: { address: recipient.address, publicKey },
      route: this.#ctx.route,
      payloadSize: config.payloadSize,
    });
    const prepareMs = nowMs() - started;
    const ahead = store.enqueue({
      packet,
      message,
      recipientAddress: recipient.address,
      recipientKey: publicKey,
      messageId,
      preparedMs: started,
    });
    const round = this.#roundFor(ahead);
    this.#ctx.metrics.record({ event: "prepared", prepare_ms: round3(prepareMs) });
    // Who it is for, and the round it leaves in, are the user's to know, not the log's.
    this.#ctx.logger.debug("message queued", { prepare_ms: round3(prepareMs) });
    return { status: true, round, reason: "", prepare_ms: prepareMs };
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
