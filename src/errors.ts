/**
 * The one error type of mixnet. Every domain error carries a {@link ErrorStatus} that the rpc
 * boundary maps to a gRPC status code, a sentence-case message that says what failed and the
 * current state after a colon, and the underlying `cause` where there is one.
 *
 * @module
 */

/** What kind of failure an error is; the rpc layer maps each to one gRPC status code. */
export type ErrorStatus =
  | "invalid-argument"
  | "permission-denied"
  | "unauthenticated"
  | "not-found"
  | "already-exists"
  | "failed-precondition"
  | "out-of-range"
  | "resource-exhausted"
  | "unavailable"
  | "internal";

/** Options of {@link MixnetError}. */
export interface MixnetErrorOptions {
  /** The failure kind; defaults to `"internal"`. */
  readonly status?: ErrorStatus;
  /** The error that caused this one. */
  readonly cause?: unknown;
}

/** Base class of every error mixnet throws on purpose. */
export class MixnetError extends Error {
  /** The failure kind, mapped to a gRPC status at the rpc boundary. */
  readonly status: ErrorStatus;

  /** Creates an error with a message, a status and an optional cause. */
  constructor(message: string, options: MixnetErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status ?? "internal";
  }
}

/** A configuration file or value is invalid. The message names the file and the field. */
export class ConfigError extends MixnetError {
  /** Creates a config error; its status is always `"invalid-argument"`. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { status: "invalid-argument", cause: options.cause });
  }
}

/** A key is missing, malformed or unsafely stored, or a box failed to open. */
export class CryptoError extends MixnetError {}

/** A packet is malformed, does not open, or is refused by a check of the protocol. */
export class PacketError extends MixnetError {
  /** A short machine-readable reason used as a metric label, such as `"undecryptable"`. */
  readonly reason: string;

  /** Creates a packet error with a metric reason; its status defaults to invalid-argument. */
  constructor(
    message: string,
    reason: string,
    options: MixnetErrorOptions = {},
  ) {
    super(message, { status: options.status ?? "invalid-argument", cause: options.cause });
    this.reason = reason;
  }
}

/** Returns the message of any thrown value, for logs and error replies. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
