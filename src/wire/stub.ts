/**
 * `MixServer` over the wire protocol, with the same methods and errors as the gRPC stub.
 *
 * @module
 */
import type * as m from "../rpc/messages.ts";
import { CALL_TIMEOUT_MS } from "../rpc/policy.ts";
import type { CallOptions, MixServerCalls } from "../rpc/stubs.ts";
import { WireChannel, type WireChannelOptions } from "./channel.ts";
import { type WireMethod, wireMethod } from "./methods.ts";

/** Options of {@link WireStub}. */
export interface WireStubOptions extends WireChannelOptions {
  /** Deadline of a call unless the call gives its own; default 10 s. */
  readonly timeoutMs?: number;
}

/** A stub of the `MixServer` service over the wire protocol. */
export class WireStub implements MixServerCalls {
  readonly #channel: WireChannel;
  readonly #timeoutMs: number;

  /** Connects (lazily) to a mix's wire port at `address`. */
  constructor(address: string, options: WireStubOptions) {
    this.#channel = new WireChannel(address, options);
    this.#timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS.default;
  }

  async #unary<Res>(method: WireMethod, request: unknown, o: CallOptions = {}): Promise<Res> {
    const codec = wireMethod(method)!;
    const reply = await this.#channel.unary(method, codec.encodeRequest(request), {
      timeoutMs: o.timeoutMs ?? this.#timeoutMs,
      signal: o.signal,
    });
    return codec.decodeResponse(reply) as Res;
  }

  /** Sends a client's packet for a round. */
  forwardMessage(r: m.ForwardMessageRequest, o?: CallOptions): Promise<m.ForwardMessageResponse> {
    return this.#unary("ForwardMessage", r, o);
  }
  /** Fetches a mailbox. */
  pollMessages(r: m.PollMessagesRequest, o?: CallOptions): Promise<m.PollMessagesResponse> {
    return this.#unary("PollMessages", r, o);
  }
  /** Registers a client. */
  register(r: m.RegisterRequest, o?: CallOptions): Promise<m.RegisterResponse> {
    return this.#unary("Register", r, o);
  }
  /** Waits on the start barrier. */
  waitForStart(r: m.WaitForStartRequest, o?: CallOptions): Promise<m.WaitForStartResponse> {
    return this.#unary("WaitForStart", r, o);
  }
  /** Streams one round's batch, as one chunk or several, to the next mix. */
  async forwardBatch(
    chunks: m.ForwardBatchRequest | readonly m.ForwardBatchRequest[],
    o: CallOptions = {},
  ): Promise<m.ForwardBatchResponse> {
    const codec = wireMethod("ForwardBatch")!;
    const list = Array.isArray(chunks) ? chunks : [chunks];
    const reply = await this.#channel.stream(
      "ForwardBatch",
      list.map((c) => codec.encodeRequest(c)),
      { timeoutMs: o.timeoutMs ?? this.#timeoutMs, signal: o.signal },
    );
    return codec.decodeResponse(reply) as m.ForwardBatchResponse;
  }
  /** Resolves once a connection could be opened again (see {@link MixServerCalls}). */
  reconnected(untilMs: number): Promise<unknown> {
    return this.#channel.reconnected(untilMs);
  }
  /** Closes the connection. */
  close(): void {
    this.#channel.close();
  }
}
