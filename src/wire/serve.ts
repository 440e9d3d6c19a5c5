/**
 * Serving `MixServer` over one wire connection: calls are read as they come and answered as
 * their handlers finish, several at a time; a streaming call's messages reach its handler as an
 * async iterable, as they arrive. Domain errors become statuses, exactly as over gRPC.
 *
 * @module
 */
import { MixnetError } from "../errors.ts";
import { grpc, toServiceError } from "../rpc/errors.ts";
import type { MixServerHandlers } from "../rpc/messages.ts";
import {
  type Frame,
  FrameKind,
  FrameReader,
  FrameTooLarge,
  FrameWriter,
  statusBytes,
  type WireConn,
} from "./frames.ts";
import type { WireCaller } from "./handshake.ts";
import { type WireMethod, wireMethod, type WireMethodCodec } from "./methods.ts";

/** What a handler learns of the call it serves over the wire protocol. */
export interface WireCallContext {
  /** Aborted when the caller cancels the call or the connection ends. */
  readonly signal: AbortSignal;
  /** The caller's address. */
  readonly peer: string;
  /** Fingerprint of the certificate the caller proved it holds, if any. */
  readonly fingerprint?: string;
  /** Why a certificate the caller showed proves nothing, if it showed one in vain. */
  readonly unproved?: string;
}

/** A check run before a call reaches its handler, e.g. that the caller proved a certificate. */
export type WireCheck = (method: WireMethod, call: WireCallContext) => void;

/** What {@link serveWire} needs besides the connection. */
export interface WireServeOptions {
  readonly handlers: MixServerHandlers;
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** The caller's address, for handlers and errors. */
  readonly peer: string;
  /** What the caller proved at its handshake. */
  readonly caller: WireCaller;
  /** Decides whether a call may reach its handler: throwing refuses it with that error. */
  readonly check?: WireCheck;
  /** Called with every error a handler throws that is not a deliberate domain error. */
  readonly onInternalError?: (method: string, error: unknown) => void;
}

/** A streaming call's messages, pushed as frames arrive and pulled by its handler. */
class MessageQueue<T> {
  readonly #items: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #failed: ((error: Error) => void) | undefined;
  #ended = false;
  #error: Error | undefined;

  push(item: T): void {
    if (this.#waiting) {
      const wake = this.#waiting;
      this.#waiting = this.#failed = undefined;
      wake({ value: item, done: false });
    } else this.#items.push(item);
  }

  end(): void {
    this.#ended = true;
    this.#waiting?.({ value: undefined, done: true });
  }

  fail(error: Error): void {
    this.#error = error;
    this.#failed?.(error);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return;
      const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
        this.#waiting = resolve;
        this.#failed = reject;
      });
      if (next.done) return;
      yield next.value;
    }
  }
}

/**
 * Serves one connection, whose magic was already read, until it closes; every call still open
 * then gets its signal aborted.
 */
export async function serveWire(conn: WireConn, options: WireServeOptions): Promise<void> {
  const reader = new FrameReader(conn, options.maxMessageBytes);
  const writer = new FrameWriter(conn);
  const streams = new Map<number, { queue: MessageQueue<unknown>; codec: WireMethodCodec }>();
  const open = new Map<number, AbortController>();
  const answer = (call: number, codec: WireMethodCodec | undefined, result: Promise<unknown>) => {
    result.then(
      (response) => {
        if (!open.delete(call)) return; // cancelled
        return writer.frame(FrameKind.reply, call, codec!.encodeResponse(response));
      },
      (error) => {
        if (!open.delete(call)) return;
        if (!(error instanceof MixnetError)) {
          options.onInternalError?.(codec?.name ?? "(unknown)", error);
        }
        const { code, details } = toServiceError(error);
        return writer.frame(FrameKind.error, call, statusBytes(code!, details ?? ""));
      },
    ).catch(() => {
      // The connection failed: its read loop ends and every call is aborted.
    });
  };
  try {
    for (;;) {
      let frame: Frame | null;
      try {
        frame = await reader.next();
      } catch (error) {
        if (!(error instanceof FrameTooLarge)) throw error;
        refuse(error);
        continue;
      }
      if (!frame) break;
      receive(frame);
    }
  } catch {
    // A malformed frame or a broken connection ends it; the peer reconnects.
  } finally {
    const gone = new MixnetError("Wire connection closed", { status: "unavailable" });
    for (const { queue } of streams.values()) queue.fail(gone);
    for (const controller of open.values()) controller.abort();
    open.clear();
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }

  /**
   * Refuses the call an oversized frame belongs to, as gRPC refuses a message over its limit:
   * a call it opens, or a streaming call it is a message of, fails with RESOURCE_EXHAUSTED and
   * the sizes; the connection and its other calls go on.
   */
  function refuse(error: FrameTooLarge): void {
    const { call, kind } = error;
    const stream = streams.get(call);
    const controller = open.get(call);
    if (kind !== FrameKind.call && !controller) return;
    streams.delete(call);
    open.delete(call);
    controller?.abort();
    stream?.queue.fail(error);
    writer.frame(FrameKind.error, call, statusBytes(grpc.status.RESOURCE_EXHAUSTED, error.message))
      .catch(() => {});
  }

  function receive(frame: Frame): void {
    const { kind, call, payload } = frame;
    if (kind === FrameKind.call) {
      const codec = wireMethod(payload[0]);
      const controller = new AbortController();
      open.set(call, controller);
      if (!codec) {
        const error = new MixnetError(`Unknown wire method ${payload[0]}`, {
          status: "invalid-argument",
        });
        return answer(call, codec, Promise.reject(error));
      }
      const context: WireCallContext = {
        signal: controller.signal,
        peer: options.peer,
        fingerprint: options.caller.fingerprint,
        unproved: options.caller.unproved,
      };
      const handler = options.handlers[codec.name] as (
        request: unknown,
        context: WireCallContext,
      ) => Promise<unknown>;
      let result: Promise<unknown>;
      try {
        options.check?.(codec.name, context);
        if (codec.requestStream) {
          const queue = new MessageQueue<unknown>();
          streams.set(call, { queue, codec });
          result = handler.call(options.handlers, queue, context);
        } else {
          result = handler.call(
            options.handlers,
            codec.decodeRequest(payload.subarray(1)),
            context,
          );
        }
      } catch (error) {
        result = Promise.reject(error);
      }
      return answer(call, codec, result);
    }
    if (kind === FrameKind.message || kind === FrameKind.end) {
      const stream = streams.get(call);
      if (!stream) return;
      const { queue, codec } = stream;
      if (kind === FrameKind.end) {
        streams.delete(call);
        return queue.end();
      }
      try {
        queue.push(codec.decodeRequest(payload));
      } catch (cause) {
        streams.delete(call);
        queue.fail(
          new MixnetError(`Malformed message in a wire stream: ${(cause as Error).message}`, {
            status: "invalid-argument",
          }),
        );
      }
      return;
    }
    if (kind === FrameKind.cancel) {
      open.get(call)?.abort();
      open.delete(call);
      streams.get(call)?.queue.fail(
        new MixnetError("Call cancelled by the caller", { status: "unavailable" }),
      );
      streams.delete(call);
    }
  }
}
