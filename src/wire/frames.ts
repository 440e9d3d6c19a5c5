/**
 * The wire protocol's framing over a byte stream: every frame is
 *
 *   length (4, big-endian: the bytes after it) ‖ kind (1) ‖ call (4) ‖ payload
 *
 * A reader hands out each frame's payload in a buffer of its own (large payloads are read
 * straight into it), so a packet can be transferred to a worker without copying the frames
 * around it; a writer sends frames in order, a large payload without copying it into a frame.
 *
 * @module
 */
import { MixnetError } from "../errors.ts";
import type { grpc } from "../rpc/errors.ts";

/** Bytes a connection starts with, from the side that opened it. */
export const WIRE_MAGIC = new TextEncoder().encode("MIXWIRE1");
/** Bytes of a frame's header: length (4), kind (1), call (4). */
export const HEADER_BYTES = 9;
/** Frames up to this size are written in one piece, header and payload copied together. */
const COALESCE_BYTES = 64 * 1024;
/** Bytes read from the stream at a time when no large frame is pending. */
const READ_BYTES = 256 * 1024;

/** Kinds of frame. */
export const FrameKind = {
  /** Opens a call: method (1) ‖ the request (empty for a streaming call). */
  call: 1,
  /** One message of a streaming call. */
  message: 2,
  /** The last message of a streaming call was sent. */
  end: 3,
  /** The call's response. */
  reply: 4,
  /** The call failed: status (2) ‖ reason (UTF-8). */
  error: 5,
  /** The caller gave up on the call. */
  cancel: 6,
} as const;

/** A kind of frame. */
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

const KINDS = new Set<number>(Object.values(FrameKind));

/** A frame as read. */
export interface Frame {
  readonly kind: FrameKind;
  readonly call: number;
  /** The payload, in a buffer of its own. */
  readonly payload: Uint8Array;
}

/** A connection the wire protocol runs over (a TCP or TLS connection). */
export type WireConn = Deno.Conn;

/**
 * Bytes of a frame's payload beside the message it carries: a call's method (1), an error's
 * status (2).
 */
const FRAMING: Readonly<Record<FrameKind, number>> = {
  [FrameKind.call]: 1,
  [FrameKind.message]: 0,
  [FrameKind.end]: 0,
  [FrameKind.reply]: 0,
  [FrameKind.error]: 2,
  [FrameKind.cancel]: 0,
};

/** Reads frames from a connection. */
export class FrameReader {
  readonly #conn: WireConn;
  readonly #maxMessageBytes: number;
  #buffer = new Uint8Array(READ_BYTES);
  #start = 0;
  #end = 0;
  /** Bytes of a refused frame still to be read past. */
  #skip = 0;

  /**
   * Reads from `conn`; a frame carrying more than `maxMessageBytes` of message is refused
   * (see {@link next}).
   */
  constructor(conn: WireConn, maxMessageBytes: number) {
    this.#conn = conn;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /**
   * The next frame, or null when the stream ended between frames.
   *
   * @throws {FrameTooLarge} for a frame over the limit: its bytes are read past (not kept) by
   * the next call, so that the connection goes on. {@link MixnetError} invalid-argument for a
   * malformed frame; unavailable when the stream ends inside one.
   */
  async next(): Promise<Frame | null> {
    await this.#discard();
    if (!await this.#buffered(HEADER_BYTES, true)) return null;
    const view = new DataView(this.#buffer.buffer, this.#start, HEADER_BYTES);
    const length = view.getUint32(0);
    const kind = view.getUint8(4);
    const call = view.getUint32(5);
    if (length < HEADER_BYTES - 4 || !KINDS.has(kind)) {
      throw new MixnetError(`Malformed wire frame: kind ${kind}, ${length} bytes`, {
        status: "invalid-argument",
      });
    }
    this.#start += HEADER_BYTES;
    const message = length - 5 - FRAMING[kind as FrameKind];
    if (message > this.#maxMessageBytes) {
      this.#skip = length - 5;
      throw new FrameTooLarge(kind as FrameKind, call, message, this.#maxMessageBytes);
    }
    const payload = new Uint8Array(length - 5);
    await this.#fill(payload);
    return { kind: kind as FrameKind, call, payload };
  }

  /** Reads past the bytes of a refused frame. */
  async #discard(): Promise<void> {
    const buffered = Math.min(this.#skip, this.#end - this.#start);
    this.#start += buffered;
    this.#skip -= buffered;
    if (this.#skip === 0) return;
    // The buffer is empty: it serves as scratch space.
    this.#start = this.#end = 0;
    while (this.#skip > 0) {
      const n = await this.#conn.read(
        this.#buffer.subarray(0, Math.min(this.#skip, this.#buffer.length)),
      );
      if (n === null) throw truncated();
      this.#skip -= n;
    }
  }

  /** Fills `out` from the buffer, then straight from the connection. */
  async #fill(out: Uint8Array): Promise<void> {
    const buffered = Math.min(out.length, this.#end - this.#start);
    out.set(this.#buffer.subarray(this.#start, this.#start + buffered));
    this.#start += buffered;
    let filled = buffered;
    // A large remainder is read in place; a small one through the buffer, with what follows.
    while (filled < out.length && out.length - filled >= READ_BYTES / 2) {
      const n = await this.#conn.read(out.subarray(filled));
      if (n === null) throw truncated();
      filled += n;
    }
    if (filled < out.length) {
      if (!await this.#buffered(out.length - filled, false)) throw truncated();
      out.set(this.#buffer.subarray(this.#start, this.#start + out.length - filled), filled);
      this.#start += out.length - filled;
    }
  }

  /**
   * Makes `count` bytes available in the buffer; false when the stream ends before any of them
   * (and `atBoundary`, where ending is allowed).
   */
  async #buffered(count: number, atBoundary: boolean): Promise<boolean> {
    if (this.#end - this.#start >= count) return true;
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#buffer.length < count) {
      const larger = new Uint8Array(Math.max(count, READ_BYTES));
      larger.set(this.#buffer.subarray(0, this.#end));
      this.#buffer = larger;
    }
    while (this.#end < count) {
      const n = await this.#conn.read(this.#buffer.subarray(this.#end));
      if (n === null) {
        if (atBoundary && this.#end === 0) return false;
        throw truncated();
      }
      this.#end += n;
    }
    return true;
  }
}

/**
 * A frame carried a message over the reader's limit. Its bytes are read past, so the connection
 * goes on; the call it belongs to is refused.
 */
export class FrameTooLarge extends MixnetError {
  /** The kind of the frame. */
  readonly kind: FrameKind;
  /** The call the frame belongs to. */
  readonly call: number;

  /** Creates the error for a frame of `kind` on `call` carrying `bytes`, over `limit`. */
  constructor(kind: FrameKind, call: number, bytes: number, limit: number) {
    super(`Message of ${bytes} bytes refused: at most ${limit} are accepted`, {
      status: "resource-exhausted",
    });
    this.kind = kind;
    this.call = call;
  }
}

function truncated(): MixnetError {
  return new MixnetError("Wire connection closed in the middle of a frame", {
    status: "unavailable",
  });
}

/**
 * Writes frames to a connection, in order. Frames queued while a write is under way go out
 * together in the next one, small ones copied into one buffer: a client stream's frames and a
 * burst of answers cost one system call, and never wait on Nagle's algorithm for each other.
 */
export class FrameWriter {
  readonly #conn: WireConn;
  #queued: Uint8Array[] = [];
  /** The write that will take what is queued now, once the one before it is done. */
  #next: Promise<void> | undefined;
  #tail: Promise<void> = Promise.resolve();

  /** Writes to `conn`. */
  constructor(conn: WireConn) {
    this.#conn = conn;
  }

  /**
   * Queues a frame whose payload is the concatenation of `parts`; resolves once it is written.
   *
   * @throws {Error} the connection's error when it cannot be written (and for every frame
   * after: the connection is unusable).
   */
  frame(kind: FrameKind, call: number, ...parts: Uint8Array[]): Promise<void> {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const header = new Uint8Array(HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint32(0, size + 5);
    view.setUint8(4, kind);
    view.setUint32(5, call);
    this.#queued.push(header, ...parts);
    if (!this.#next) {
      this.#next = this.#tail.then(() => {
        const chunks = this.#queued;
        this.#queued = [];
        this.#next = undefined;
        return writeChunks(this.#conn, chunks);
      });
      this.#tail = this.#next;
    }
    return this.#next;
  }
}

/** Writes `chunks` in order: runs of small ones copied into one buffer, large ones as they are. */
async function writeChunks(conn: WireConn, chunks: readonly Uint8Array[]): Promise<void> {
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flush = async () => {
    if (run.length === 0) return;
    const joined = run.length === 1 ? run[0] : new Uint8Array(runBytes);
    if (run.length > 1) {
      let offset = 0;
      for (const chunk of run) {
        joined.set(chunk, offset);
        offset += chunk.length;
      }
    }
    run = [];
    runBytes = 0;
    await writeAll(conn, joined);
  };
  for (const chunk of chunks) {
    if (chunk.length > COALESCE_BYTES) {
      await flush();
      await writeAll(conn, chunk);
      continue;
    }
    run.push(chunk);
    runBytes += chunk.length;
    if (runBytes >= COALESCE_BYTES) await flush();
  }
  await flush();
}

/** Writes all of `bytes` (a connection may take them in parts). */
export async function writeAll(conn: WireConn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** An error frame's payload: status (2) ‖ reason. */
export function statusBytes(code: grpc.status, details: string): Uint8Array {
  const text = new TextEncoder().encode(details);
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

/** Reads an error frame's payload. */
export function parseStatus(payload: Uint8Array): { code: grpc.status; details: string } {
  return {
    code: new DataView(payload.buffer, payload.byteOffset).getUint16(0) as grpc.status,
    details: new TextDecoder().decode(payload.subarray(2)),
  };
}
