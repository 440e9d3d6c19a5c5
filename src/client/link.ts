/**
 * A client's authenticated calls to the cascade, built and signed in one place: register and
 * wait for the start at the first mix, send a round's packet to it, fetch the mailbox at the
 * last mix. One call per method and no retry: the stages that use it retry on the connection
 * policy (rpc/retry.ts), and tests and the load generator act as clients through it.
 *
 * @module
 */
import { forwardProof, type PeerMac, pollProof, registerProof } from "../crypto/mod.ts";
import type {
  CallOptions,
  ForwardMessageRequest,
  ForwardMessageResponse,
  MixServerCalls,
  PollMessagesRequest,
  PollMessagesResponse,
  RegisterResponse,
  WaitForStartResponse,
} from "../rpc/mod.ts";

/** A mix as the link calls it: its stub and its public key (requests are signed for it). */
export interface LinkedMix {
  readonly stub: MixServerCalls;
  readonly publicKey: Uint8Array;
}

/** Options of {@link CascadeLink}. */
export interface CascadeLinkOptions {
  /** The client's id. */
  readonly id: string;
  /** The client's own address: where its mailbox is, as the onions name it. */
  readonly address: string;
  /** The client's MAC key pair. */
  readonly mac: PeerMac;
  readonly first: LinkedMix;
  readonly last: LinkedMix;
}

/** A mailbox fetch: the round to wait for, the token it acknowledges, a fresh timestamp. */
export interface FetchRequest {
  /** The round whose deliveries to wait for; negative: answer at once. */
  readonly round: number;
  /** Token of the last response stored (empty on the first fetch). */
  readonly ack: Uint8Array;
  /** Strictly greater than the previous fetch's, and near the mix's clock. */
  readonly timestampMs: number;
}

/** One client's signed calls to the first and the last mix. The stubs stay the caller's. */
export class CascadeLink {
  readonly #o: CascadeLinkOptions;

  /** Creates a link; it opens nothing itself. */
  constructor(options: CascadeLinkOptions) {
    this.#o = options;
  }

  /** Registers with the first mix, proving the key at the current time. */
  register(options?: CallOptions): Promise<RegisterResponse> {
    const { id, mac, first } = this.#o;
    const request = { client_id: id, timestamp_ms: Date.now(), mac: new Uint8Array() };
    request.mac = mac.sign(first.publicKey, ...registerProof(request));
    return first.stub.register(request, options);
  }

  /** Waits at the first mix until enough clients registered (the call may be held). */
  waitForStart(options?: CallOptions): Promise<WaitForStartResponse> {
    return this.#o.first.stub.waitForStart({ client_id: this.#o.id }, options);
  }

  /** Sends this client's one packet of `round` to the first mix. */
  forward(
    round: number,
    payload: Uint8Array,
    options?: CallOptions,
  ): Promise<ForwardMessageResponse> {
    return this.#o.first.stub.forwardMessage(this.forwardRequest(round, payload), options);
  }

  /** This client's packet of `round`, signed for the first mix, as {@link forward} sends it. */
  forwardRequest(round: number, payload: Uint8Array): ForwardMessageRequest {
    const { id, mac, first } = this.#o;
    const request = { payload, round, client_id: id, mac: new Uint8Array() };
    request.mac = mac.sign(first.publicKey, ...forwardProof(request));
    return request;
  }

  /**
   * Resolves when the channel to the first (or last) mix, lost now, connects again, or at
   * `untilMs` (see MixServerCalls.reconnected): a retry's wait ends when the mix is back.
   */
  reconnected(mix: "first" | "last", untilMs: number): Promise<unknown> {
    return this.#o[mix].stub.reconnected(untilMs);
  }

  /** Fetches this client's mailbox at the last mix. */
  fetch(fetch: FetchRequest, options?: CallOptions): Promise<PollMessagesResponse> {
    const { id, address, mac, last } = this.#o;
    const request: PollMessagesRequest = {
      client_addr: address,
      client_id: id,
      timestamp_ms: fetch.timestampMs,
      round: fetch.round,
      ack: fetch.ack,
      mac: new Uint8Array(),
    };
    request.mac = mac.sign(last.publicKey, ...pollProof(request));
    return last.stub.pollMessages(request, options);
  }
}
