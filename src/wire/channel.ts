/**
 * The calling side of the wire protocol: one connection to a peer, opened on the first call and
 * again after it breaks, carrying any number of calls at once. A call has a deadline and may be
 * cancelled; it fails with an {@link RpcError} of the same status a gRPC call would, so the one
 * failure classification and retry policy of `src/rpc` apply to both transports.
 *
 * @module
 */
import { splitAddress } from "../config/address.ts";
import { grpc, RpcError } from "../rpc/errors.ts";
import type { TlsIdentity } from "../crypto/mod.ts";
import {
  type Frame,
  FrameKind,
  FrameReader,
  FrameTooLarge,
  FrameWriter,
  parseStatus,
  type WireConn,
} from "./frames.ts";
import { callerHandshake } from "./handshake.ts";
import { type WireMethod, wireMethod } from "./methods.ts";

/** Opens the connection a channel runs over (TCP, or TLS where the wire is secured). */
export type WireDialer = (host: string, port: number) => Promise<WireConn>;

/** Options of {@link WireChannel}. */
export interface WireChannelOptions {
  /** How the peer is named in errors, e.g. `mix_2 (127.0.0.1:50052)`. */
  readonly name?: string;
  /** Largest message sent or received, in bytes. */
  readonly maxMessageBytes: number;
  /** How to open a connection; plain TCP by default. */
  readonly dial?: WireDialer;
  /** The certificate this side proves it holds (a mix to the next), if any. */
  readonly identity?: TlsIdentity;
}

/** Per-call options. */
export interface WireCallOptions {
  /** Deadline of the call, in milliseconds from now. */
  readonly timeoutMs: number;
  /** Cancels the call (it fails with CANCELLED) when aborted. */
  readonly signal?: AbortSignal;
}

interface Pending {
  resolve(payload: Uint8Array): void;
  fail(code: grpc.status, details: string): void;
}

interface Connection {
  readonly writer: FrameWriter;
  readonly conn: WireConn;
  readonly pending: Map<number, Pending>;
}

/** Plain TCP, without Nagle's algorithm: a call's frames must not wait on the peer's ACK. */
const tcp: WireDialer = async (hostname, port) => {
  const conn = await Deno.connect({ hostname, port });
  conn.setNoDelay(true);
  return conn;
};

/** A wire connection to one peer. */
export class WireChannel {
  readonly #host: string;
  readonly #port: number;
  readonly #name: string;
  readonly #maxMessageBytes: number;
  readonly #dial: WireDialer;
  readonly #identity: TlsIdentity | undefined;
  #connection: Promise<Connection> | undefined;
  #nextCall = 1;
  #closed = false;

  /** A channel to `address` (`host:port`); nothing is opened until the first call. */
  constructor(address: string, options: WireChannelOptions) {
    ({ host: this.#host, port: this.#port } = splitAddress(address));
    this.#name = options.name ?? address;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#dial = options.dial ?? tcp;
    this.#identity = options.identity;
  }

  /**
   * Calls a unary method with its encoded request; resolves with the encoded response.
   *
   * @throws {RpcError} with the peer's status, UNAVAILABLE when it cannot be reached or the
   * connection breaks, DEADLINE_EXCEEDED or CANCELLED.
   */
  unary(method: WireMethod, request: Uint8Array, options: WireCallOptions): Promise<Uint8Array> {
    return this.#call(method, [request], false, options);
  }

  /**
   * Calls a client-streaming method: sends every encoded message, then waits for the response.
   *
   * @throws {RpcError} as {@link unary}.
   */
  stream(
    method: WireMethod,
    messages: readonly Uint8Array[],
    options: WireCallOptions,
  ): Promise<Uint8Array> {
    return this.#call(method, messages, true, options);
  }

  /**
   * Resolves once a connection could be opened again, or at `untilMs`; never while one is open
   * (the retry policy's wake-up, as a gRPC channel's `reconnected`).
   */
  async reconnected(untilMs: number): Promise<unknown> {
    if (this.#connection && await this.#connection.then(() => true, () => false)) {
      return await new Promise(() => {});
    }
    while (!this.#closed && Date.now() < untilMs) {
      try {
        return await this.#connect();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, untilMs - Date.now())));
      }
    }
  }

  /** Closes the connection; calls in flight fail with UNAVAILABLE. */
  close(): void {
    this.#closed = true;
    this.#connection?.then((c) => c.conn.close()).catch(() => {});
    this.#connection = undefined;
  }

  async #call(
    method: WireMethod,
    messages: readonly Uint8Array[],
    streaming: boolean,
    { timeoutMs, signal }: WireCallOptions,
  ): Promise<Uint8Array> {
    const fail = (code: grpc.status, details: string) =>
      new RpcError(this.#name, method, code, details);
    if (this.#closed) throw fail(grpc.status.UNAVAILABLE, "Channel closed");
    if (signal?.aborted) throw fail(grpc.status.CANCELLED, "Cancelled by the caller");
    // As gRPC does, a message over the limit is refused before it is sent.
    const over = messages.find((m) => m.length > this.#maxMessageBytes);
    if (over) {
      throw fail(
        grpc.status.RESOURCE_EXHAUSTED,
        `Message of ${over.length} bytes not sent: at most ${this.#maxMessageBytes} are accepted`,
      );
    }
    const number = wireMethod(method)!.number;
    const call = this.#nextCall++;
    return await new Promise<Uint8Array>((resolve, reject) => {
      let connection: Connection | undefined;
      const settle = (error: RpcError | undefined, payload?: Uint8Array) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        connection?.pending.delete(call);
        if (error) reject(error);
        else resolve(payload!);
      };
      const giveUp = (code: grpc.status, details: string) => {
        connection?.writer.frame(FrameKind.cancel, call).catch(() => {});
        settle(fail(code, details));
      };
      const onAbort = () => giveUp(grpc.status.CANCELLED, "Cancelled by the caller");
      const timer = setTimeout(
        () => giveUp(grpc.status.DEADLINE_EXCEEDED, `Deadline of ${timeoutMs} ms exceeded`),
        timeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#connect().then(async (c) => {
        connection = c;
        c.pending.set(call, {
          resolve: (payload) => settle(undefined, payload),
          fail: (code, details) => settle(fail(code, details)),
        });
        const opening = new Uint8Array([number]);
        if (!streaming) return await c.writer.frame(FrameKind.call, call, opening, messages[0]);
        await c.writer.frame(FrameKind.call, call, opening);
        for (const message of messages) await c.writer.frame(FrameKind.message, call, message);
        await c.writer.frame(FrameKind.end, call);
      }).catch((error) => {
        if (error instanceof RpcError) return settle(error);
        // The connection cannot be written: the next call opens a new one.
        if (connection) this.#forget(connection);
        settle(fail(grpc.status.UNAVAILABLE, `Wire write failed: ${(error as Error).message}`));
      });
    });
  }

  /** The open connection, or a new one. */
  #connect(): Promise<Connection> {
    if (!this.#connection) {
      const opening = this.#open();
      this.#connection = opening;
      // A failed attempt is forgotten at once: the next call tries again.
      opening.catch(() => {
        if (this.#connection === opening) this.#connection = undefined;
      });
    }
    return this.#connection;
  }

  async #open(): Promise<Connection> {
    let conn: WireConn;
    try {
      conn = await this.#dial(this.#host, this.#port);
    } catch (error) {
      throw new RpcError(
        this.#name,
        "connect",
        grpc.status.UNAVAILABLE,
        `No connection to ${this.#host}:${this.#port}: ${(error as Error).message}`,
      );
    }
    try {
      await callerHandshake(conn, this.#identity);
    } catch (error) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      throw new RpcError(
        this.#name,
        "connect",
        grpc.status.UNAVAILABLE,
        `Wire handshake with ${this.#host}:${this.#port} failed: ${(error as Error).message}`,
      );
    }
    const connection: Connection = { conn, writer: new FrameWriter(conn), pending: new Map() };
    this.#read(connection);
    return connection;
  }

  /** Closes `connection` and, if it is the current one, lets the next call open another. */
  async #forget(connection: Connection): Promise<void> {
    if (this.#connection && (await this.#connection.catch(() => undefined)) === connection) {
      this.#connection = undefined;
    }
    try {
      connection.conn.close();
    } catch {
      // Already closed.
    }
  }

  /**
   * Delivers replies until the connection ends; then fails every call still waiting. A reply
   * over the size limit fails its call alone, with RESOURCE_EXHAUSTED, as over gRPC.
   */
  async #read(connection: Connection): Promise<void> {
    const reader = new FrameReader(connection.conn, this.#maxMessageBytes);
    let reason = "connection closed by the peer";
    try {
      for (;;) {
        let frame: Frame | null;
        try {
          frame = await reader.next();
        } catch (error) {
          if (!(error instanceof FrameTooLarge)) throw error;
          connection.pending.get(error.call)?.fail(grpc.status.RESOURCE_EXHAUSTED, error.message);
          continue;
        }
        if (!frame) break;
        const pending = connection.pending.get(frame.call);
        if (!pending) continue;
        if (frame.kind === FrameKind.reply) pending.resolve(frame.payload);
        else if (frame.kind === FrameKind.error) {
          const { code, details } = parseStatus(frame.payload);
          pending.fail(code, details);
        }
      }
    } catch (error) {
      reason = (error as Error).message;
    }
    await this.#forget(connection);
    for (const pending of [...connection.pending.values()]) {
      pending.fail(grpc.status.UNAVAILABLE, `Wire lost: ${reason}`);
    }
  }
}
