/**
 * PrepareMessage: validates the recipient and the message, builds the onion at once (the
 * measured preparation time) and queues it durably.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { decodePublicKey } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import { buildOnion, PayloadKind } from "../onion/mod.ts";
import { nowMs } from "../round_clock.ts";
import type { PrepareMessageRequest, PrepareMessageResponse } from "../rpc/mod.ts";
import type { ClientContext } from "./context.ts";

const encoder = new TextEncoder();

/** Digest of a message, to recognise a message to itself when it comes back. */
export function messageDigest(message: Uint8Array): string {
  return createHash("sha256").update(message).digest("hex");
}

/** Builds and queues user messages. */
export class Preparer {
  readonly #ctx: ClientContext;
  readonly #nextRound: () => number;

  /** Creates a preparer; `nextRound` tells the round the next queued packet leaves in. */
  constructor(ctx: ClientContext, nextRound: () => number) {
    this.#ctx = ctx;
    this.#nextRound = nextRound;
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
    const started = nowMs();
    const packet = buildOnion(this.#ctx.box, {
      message,
      kind: PayloadKind.message,
      recipient: { address: recipient.address, publicKey },
      route: this.#ctx.route,
      payloadSize: config.payloadSize,
    });
    const prepareMs = nowMs() - started;
    if (recipient.id === this.#ctx.id) store.rememberSentToSelf(messageDigest(message), started);
    const ahead = store.enqueue(packet, started);
    const round = this.#nextRound() + ahead;
    this.#ctx.metrics.record({ event: "prepared", round, prepare_ms: round3(prepareMs) });
    this.#ctx.logger.info("message queued", {
      to: recipient.id,
      round,
      prepare_ms: round3(prepareMs),
    });
    return { status: true, round, reason: "", prepare_ms: prepareMs };
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
