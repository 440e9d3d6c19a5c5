/**
 * The one connection and retry policy of every node: how a channel reconnects to a peer that
 * went away, how long a call waits for a connection, which failures are worth retrying soon
 * (transient) and which need someone to fix a cause first (permanent), and the backoff of each.
 *
 * | gRPC status (or domain status)              | kind      | why                            |
 * |---------------------------------------------|-----------|--------------------------------|
 * | UNAVAILABLE, DEADLINE_EXCEEDED              | transient | peer down, restarting or slow  |
 * | RESOURCE_EXHAUSTED                          | transient | peer's queue or disk full      |
 * | ABORTED, CANCELLED                          | transient | cut short, not refused         |
 * | INTERNAL, UNKNOWN                           | transient | a connection cut mid-call (as  |
 * |                                             |           | grpc-js reports RST_STREAM), or|
 * |                                             |           | a peer's unexpected failure    |
 * | INVALID_ARGUMENT, OUT_OF_RANGE              | permanent | the request is wrong for it    |
 * | PERMISSION_DENIED, UNAUTHENTICATED          | permanent | keys or configs disagree       |
 * | FAILED_PRECONDITION, NOT_FOUND              | permanent | peer in another state or role  |
 * | ALREADY_EXISTS                              | permanent | the caller decides (a retry    |
 * |                                             |           | that an earlier attempt stored)|
 * | UNIMPLEMENTED, DATA_LOSS                    | permanent | another version, a broken store|
 * | a thrown value that is not a MixnetError    | permanent | a local bug                    |
 *
 * Transient failures are retried on {@link BACKOFF}.transient (fast first retry, capped at a
 * second, jittered); permanent ones on {@link BACKOFF}.permanent (seconds apart, capped at 30 s),
 * so a cause fixed by an operator heals without a restart while the log says what is wrong.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { type ErrorStatus, MixnetError } from "../errors.ts";

/** Whether a failure may go away on its own soon, or needs its cause fixed first. */
export type FailureKind = "transient" | "permanent";

/** An exponential backoff: `initialMs`, times `multiplier` per failure up to `maxMs`. */
export interface BackoffSchedule {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** Each wait is drawn uniformly within ± this fraction of its nominal value. */
  readonly jitter: number;
}

/** The backoff of each kind of failure. */
export const BACKOFF: Readonly<Record<FailureKind, BackoffSchedule>> = Object.freeze({
  transient: Object.freeze({ initialMs: 50, maxMs: 1000, multiplier: 2, jitter: 0.2 }),
  permanent: Object.freeze({ initialMs: 2000, maxMs: 30_000, multiplier: 2, jitter: 0.2 }),
});

/**
 * How a channel reconnects after a refused or lost connection. grpc-js's own default waits 1 s,
 * then 1.6 times longer per failure up to 120 s and resets only after a success: after a long
 * outage a peer that is back would wait up to two minutes for the next try. Here the first try
 * is after 100 ms and the wait never exceeds a second (grpc-js adds ±20 % jitter).
 */
export const RECONNECT = Object.freeze({ initialMs: 100, maxMs: 1000 });

/**
 * How long a call waits for a connection to its peer, within its deadline, before it fails with
 * the transport's reason: long enough for a restarted peer to be reached by the reconnect
 * backoff, short enough that a retry loop reports a peer that stays away within seconds.
 */
export const CONNECT_WAIT_MS = 2000;

/**
 * How long a wire server waits for a new connection's TLS handshake, magic and certificate
 * proof before it closes it and reports the caller refused: a caller that connects and says
 * nothing is let go after that long. Ample for a peer on a slow link or a loaded machine, which
 * sends them at once.
 */
export const WIRE_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Deadlines of calls that have no deadline of their own to derive (a forward's and a fetch's
 * come from what they carry or wait for: rpc/limits.ts; a packet's from its round).
 */
export const CALL_TIMEOUT_MS = Object.freeze({
  /** Any call unless it says otherwise. */
  default: 10_000,
  /** A registration: answered at once by a first mix that is up. */
  register: 5000,
  /** The start barrier: held until enough clients registered, then made again. */
  waitForStart: 30_000,
});

/** Least time between two log lines about one kind of failure that keeps coming back. */
export const RETRY_LOG_INTERVAL_MS = 5000;

/** The channel options of every stub, beside its size limits. */
export const CHANNEL_OPTIONS: Readonly<grpc.ChannelOptions> = Object.freeze({
  "grpc.initial_reconnect_backoff_ms": RECONNECT.initialMs,
  "grpc.max_reconnect_backoff_ms": RECONNECT.maxMs,
  // Retries are ours (see retry.ts): grpc-js's own would resend a packet's bytes unchanged.
  "grpc.enable_retries": 0,
});

const TRANSIENT_CODES: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.CANCELLED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

const TRANSIENT_STATUSES: ReadonlySet<ErrorStatus> = new Set([
  "unavailable",
  "resource-exhausted",
  "internal",
]);

/** Whether a gRPC status code is worth retrying soon. */
export function codeKind(code: grpc.status): FailureKind {
  return TRANSIENT_CODES.has(code) ? "transient" : "permanent";
}

/**
 * Classifies any failure: a failed call by its gRPC status (an `RpcError` carries `code`), a
 * local domain error by its status, anything else (a bug) as permanent.
 */
export function failureKind(error: unknown): FailureKind {
  const code = (error as { code?: unknown })?.code;
  if (error instanceof MixnetError && typeof code === "number") return codeKind(code);
  if (error instanceof MixnetError) {
    return TRANSIENT_STATUSES.has(error.status) ? "transient" : "permanent";
  }
  return "permanent";
}
