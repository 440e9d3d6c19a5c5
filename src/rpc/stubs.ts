/**
 * Promise-returning client stubs of both services, with a deadline and the stub's headers on
 * every call, and errors that name the peer and the method.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type * as m from "./messages.ts";
import { mixnetPackage } from "./proto.ts";
import { RpcError } from "./errors.ts";

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: Callback<Res>,
) => grpc.Call;
type StreamMethod<Req, Res> = (
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: Callback<Res>,
) => grpc.ClientWritableStream<Req>;

/** Options of a stub. */
export interface StubOptions {
  /** Largest message sent or received, in bytes. */
  readonly maxMessageBytes: number;
  /** Deadline of a call unless the call gives its own; default 10 s. */
  readonly timeoutMs?: number;
  /** How the peer is named in errors, e.g. `mix_2 (127.0.0.1:50052)`. */
  readonly name?: string;
  /** Request headers sent with every call (lower-case names), e.g. a credential. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Channel credentials, e.g. pinned TLS (see tls.ts); plain gRPC when absent. */
  readonly credentials?: grpc.ChannelCredentials;
}

/** Per-call options. */
export interface CallOptions {
  /** Deadline of this call in milliseconds. */
  readonly timeoutMs?: number;
  /** Cancels the call (it fails with CANCELLED) when aborted. */
  readonly signal?: AbortSignal;
}

class Stub {
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;
  readonly #name: string;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(service: grpc.ServiceClientConstructor, address: string, options: StubOptions) {
    this.#client = new service(address, options.credentials ?? grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": options.maxMessageBytes,
      "grpc.max_send_message_length": options.maxMessageBytes,
      "grpc.enable_retries": 0,
    });
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#name = options.name ?? address;
    this.#headers = options.headers ?? {};
  }

  protected call<Req, Res>(method: string, request: Req, options: CallOptions = {}): Promise<Res> {
    const fn = this.#method<UnaryMethod<Req, Res>>(method);
    return this.#settle(
      method,
      options,
      (m, o, done) => fn.call(this.#client, request, m, o, done),
    );
  }

  /** A client-streaming call: writes every request, then waits for the one response. */
  protected stream<Req, Res>(
    method: string,
    requests: readonly Req[],
    options: CallOptions = {},
  ): Promise<Res> {
    const fn = this.#method<StreamMethod<Req, Res>>(method);
    return this.#settle<Res>(method, options, (m, o, done) => {
      const call = fn.call(this.#client, m, o, done);
      for (const request of requests) call.write(request);
      call.end();
      return call;
    });
  }

  #method<F>(method: string): F {
    return (this.#client as unknown as Record<string, F>)[method];
  }

  /**
   * Starts a call with its deadline and headers, cancels it when the signal aborts, and
   * settles with its response or an {@link RpcError}.
   */
  #settle<Res>(
    method: string,
    options: CallOptions,
    start: (metadata: grpc.Metadata, options: grpc.CallOptions, done: Callback<Res>) => grpc.Call,
  ): Promise<Res> {
    const deadline = Date.now() + (options.timeoutMs ?? this.#timeoutMs);
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(this.#headers)) metadata.set(name, value);
    const { signal } = options;
    return new Promise<Res>((resolve, reject) => {
      const cancel = () => call.cancel();
      const call = start(metadata, { deadline }, (error, res) => {
        signal?.removeEventListener("abort", cancel);
        if (error) reject(new RpcError(this.#name, method, error.code, error.details));
        else resolve(res);
      });
      if (signal?.aborted) cancel();
      else signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}

/** A stub of the `MixServer` service. */
export class MixServerStub extends Stub {
  /** Connects (lazily) to a mix at `address`. */
  constructor(address: string, options: StubOptions) {
    super(mixnetPackage().MixServer, address, options);
  }
  /** Sends a client's packet for a round. */
  forwardMessage(r: m.ForwardMessageRequest, o?: CallOptions): Promise<m.ForwardMessageResponse> {
    return this.call("ForwardMessage", r, o);
  }
  /** Polls a mailbox. */
  pollMessages(r: m.PollMessagesRequest, o?: CallOptions): Promise<m.PollMessagesResponse> {
    return this.call("PollMessages", r, o);
  }
  /** Registers a client. */
  register(r: m.RegisterRequest, o?: CallOptions): Promise<m.RegisterResponse> {
    return this.call("Register", r, o);
  }
  /** Waits on the start barrier. */
  waitForStart(r: m.WaitForStartRequest, o?: CallOptions): Promise<m.WaitForStartResponse> {
    return this.call("WaitForStart", r, o);
  }
  /** Streams one round's batch, as one chunk or several, to the next mix. */
  forwardBatch(
    chunks: m.ForwardBatchRequest | readonly m.ForwardBatchRequest[],
    o?: CallOptions,
  ): Promise<m.ForwardBatchResponse> {
    return this.stream("ForwardBatch", Array.isArray(chunks) ? chunks : [chunks], o);
  }
}

/** A stub of a client's own `Client` service. */
export class ClientStub extends Stub {
  /** Connects (lazily) to a client at `address`. */
  constructor(address: string, options: StubOptions) {
    super(mixnetPackage().Client, address, options);
  }
  /** Queues a message. */
  prepareMessage(r: m.PrepareMessageRequest, o?: CallOptions): Promise<m.PrepareMessageResponse> {
    return this.call("PrepareMessage", r, o);
  }
  /** Returns received messages. */
  pollMessages(o?: CallOptions): Promise<m.ClientPollMessagesResponse> {
    return this.call("PollMessages", {}, o);
  }
}
