/**
 * Promise-returning client stubs of both services, with the connection policy (policy.ts), a
 * deadline and the stub's headers on every call, and errors that name the peer and the method.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type * as m from "./messages.ts";
import { CALL_TIMEOUT_MS, CHANNEL_OPTIONS, CONNECT_WAIT_MS } from "./policy.ts";
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
  /** Deadline of a call unless the call gives its own; default CALL_TIMEOUT_MS.default. */
  readonly timeoutMs?: number;
  /** How the peer is named in errors, e.g. `mix_2 (127.0.0.1:50052)`. */
  readonly name?: string;
  /** Request headers sent with every call (lower-case names), e.g. a credential. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Channel credentials, e.g. pinned TLS (see tls.ts); plain gRPC when absent. */
  readonly credentials?: grpc.ChannelCredentials;
  /**
   * Fail a call at once while there is no connection, instead of waiting for one within its
   * deadline: for a one-shot command whose user wants to hear that nothing is running.
   */
  readonly failFast?: boolean;
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
  readonly #waitForReady: boolean;

  constructor(service: grpc.ServiceClientConstructor, address: string, options: StubOptions) {
    this.#client = new service(address, options.credentials ?? grpc.credentials.createInsecure(), {
      ...CHANNEL_OPTIONS,
      "grpc.max_receive_message_length": options.maxMessageBytes,
      "grpc.max_send_message_length": options.maxMessageBytes,
    });
    this.#timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS.default;
    this.#name = options.name ?? address;
    this.#headers = options.headers ?? {};
    this.#waitForReady = !options.failFast;
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
   * settles with its response or an {@link RpcError}. Unless the stub fails fast, a call made
   * while the channel is not connected first waits for the connection (the channel reconnects
   * on the policy's bounded backoff), up to {@link CONNECT_WAIT_MS} and half its deadline: a peer
   * that just restarted is reached the moment it listens. A connected call keeps waiting for
   * a connection that drops within its deadline; one still unconnected fails at once with the
   * transport's own reason (such as `connect ECONNREFUSED`), for the caller to retry and log.
   */
  async #settle<Res>(
    method: string,
    options: CallOptions,
    start: (metadata: grpc.Metadata, options: grpc.CallOptions, done: Callback<Res>) => grpc.Call,
  ): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const { signal } = options;
    // Half the deadline at most, so that the call that reports the reason still has time.
    const connectMs = Math.min(CONNECT_WAIT_MS, timeoutMs / 2);
    const connected = this.#waitForReady &&
      await this.#connected(Date.now() + connectMs, signal);
    // grpc-js takes waitForReady as an option of the metadata, not of the call.
    const metadata = new grpc.Metadata({ waitForReady: connected });
    for (const [name, value] of Object.entries(this.#headers)) metadata.set(name, value);
    return await new Promise<Res>((resolve, reject) => {
      const cancel = () => call.cancel();
      const call = start(metadata, { deadline }, (error, res) => {
        signal?.removeEventListener("abort", cancel);
        if (error) reject(new RpcError(this.#name, method, error.code, this.#details(error)));
        else resolve(res);
      });
      if (signal?.aborted) cancel();
      else signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  /**
   * Resolves once this channel, not connected now, is connected again (it is asked to
   * reconnect meanwhile), or at `untilMs`; never early for a channel that is connected. A
   * retry loop waits on it beside its backoff, so that a peer that comes back is called at once,
   * and one that answers but refuses is not called faster than the backoff.
   */
  reconnected(untilMs: number): Promise<unknown> {
    if (this.#client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) {
      return new Promise(() => {});
    }
    return this.#connected(untilMs, undefined);
  }

  /** Whether the channel is connected by `until` (it starts connecting if idle). */
  #connected(until: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#client.getChannel().getConnectivityState(true) === grpc.connectivityState.READY) {
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#client.waitForReady(until, (error) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(!error);
      });
    });
  }

  /**
   * The reason of a failed call. A deadline that passed while the call still waited for a
   * connection says so, rather than grpc-js's timing breakdown.
   */
  #details(error: grpc.ServiceError): string {
    // grpc-js appends an empty "Resolution note: " to connection errors.
    const details = error.details.replace(/\.? Resolution note: ?$/, "");
    if (error.code !== grpc.status.DEADLINE_EXCEEDED) return details;
    const state = this.#client.getChannel().getConnectivityState(false);
    if (state === grpc.connectivityState.READY) return details;
    return `no connection within the deadline (channel ${grpc.connectivityState[state]}): ` +
      details;
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}

/**
 * The calls a node makes to a mix, whatever carries them: gRPC ({@link MixServerStub}) or the
 * wire protocol (src/wire). Both fail with {@link RpcError}s of the same statuses.
 */
export interface MixServerCalls {
  /** Sends a client's packet for a round. */
  forwardMessage(r: m.ForwardMessageRequest, o?: CallOptions): Promise<m.ForwardMessageResponse>;
  /** Fetches a mailbox. */
  pollMessages(r: m.PollMessagesRequest, o?: CallOptions): Promise<m.PollMessagesResponse>;
  /** Registers a client. */
  register(r: m.RegisterRequest, o?: CallOptions): Promise<m.RegisterResponse>;
  /** Waits on the start barrier. */
  waitForStart(r: m.WaitForStartRequest, o?: CallOptions): Promise<m.WaitForStartResponse>;
  /** Streams one round's batch, as one chunk or several, to the next mix. */
  forwardBatch(
    chunks: m.ForwardBatchRequest | readonly m.ForwardBatchRequest[],
    o?: CallOptions,
  ): Promise<m.ForwardBatchResponse>;
  /**
   * Resolves once a peer that was not connected is connected again, or at `untilMs`; never
   * while connected (see the retry helper's `reconnected`).
   */
  reconnected(untilMs: number): Promise<unknown>;
  /** Closes the connection. */
  close(): void;
}

/** A stub of the `MixServer` service over gRPC. */
export class MixServerStub extends Stub implements MixServerCalls {
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
