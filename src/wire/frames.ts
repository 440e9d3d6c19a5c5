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

/** Reads frames from a connection. */
export class FrameReader {
  readonly #conn: WireConn;
  readonly #maxFrameBytes: number;
  #buffer = new Uint8Array(READ_BYTES);
  #start = 0;
  #end = 0;

  /** Reads from `conn`; a frame longer than `maxFrameBytes` fails the connection. */
  constructor(conn: WireConn, maxFrameBytes: number) {
    this.#conn = conn;
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * The next frame, or null when the stream ended between frames.
   *
   * @throws {MixnetError} invalid-argument for a malformed or oversized frame; unavailable when
   * the stream ends inside one.
   */
  async next(): Promise<Frame | null> {
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
    if (length - 5 > this.#maxFrameBytes) {
      throw new FrameTooLarge(call, length - 5, this.#maxFrameBytes);
    }
    this.#start += HEADER_BYTES;
    const payload = new Uint8Array(length - 5);
    await this.#fill(payload);
    return { kind: kind as FrameKind, call, payload };
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

/** A frame announced more bytes than the reader accepts; the connection cannot go on. */
export class FrameTooLarge extends MixnetError {
  /** The call the frame belongs to. */
  readonly call: number;

  /** Creates the error for a frame of `bytes` on `call`, over `limit`. */
  constructor(call: number, bytes: number, limit: number) {
    super(`Message of ${bytes} bytes refused: at most ${limit} are accepted`, {
      status: "resource-exhausted",
    });
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
