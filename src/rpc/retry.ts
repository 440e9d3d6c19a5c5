/**
 * The one retry loop of the project: an operation tried until it succeeds, is stopped, runs out
 * of time, or (when asked) fails permanently, waiting between attempts on the backoff of the
 * failure's kind (see policy.ts), and reporting every failure to the caller, which counts and
 * logs it.
 *
 * @module
 */
import { errorMessage, MixnetError } from "../errors.ts";
import type { RateLimitedLog } from "../log.ts";
import { sleep } from "../round_clock.ts";
import { RpcError } from "./errors.ts";
import { BACKOFF, type BackoffSchedule, type FailureKind, failureKind } from "./policy.ts";

/** One failed attempt, as {@link RetryOptions.onFailure} sees it. */
export interface RetryFailure {
  readonly error: unknown;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly kind: FailureKind;
  /** How long until the next attempt, or undefined when there is none (the error is thrown). */
  readonly retryInMs: number | undefined;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Stops retrying: the wait in progress ends, and {@link retry} rejects with {@link Stopped}. */
  readonly signal?: AbortSignal;
  /**
   * Makes the first attempt even when the signal has aborted already: for work that completes
   * something done (recording an acknowledgement), which only its retries may give up.
   */
  readonly firstAttemptWhenStopped?: boolean;
  /** Wall-clock ms after which no attempt starts: the last failure is thrown instead. */
  readonly deadlineMs?: number;
  /** What a permanent failure does: wait on the slow schedule and retry (default), or throw. */
  readonly permanent?: "retry" | "throw";
  /** Classifies a failure; default {@link failureKind}. */
  readonly classify?: (error: unknown) => FailureKind;
  /**
   * Ends the wait after a transient failure early, e.g. a stub's `reconnected` (resolves when
   * its channel connects again, asked to meanwhile): given the wait's end.
   */
  readonly reconnected?: (untilMs: number) => Promise<unknown>;
  /** Called after each failed attempt, before the wait: count it, log it. */
  readonly onFailure?: (failure: RetryFailure) => void;
  /** Draws a number in [0, 1) for the jitter (tests pass their own). */
  readonly random?: () => number;
}

/** A retry stopped through its signal before the operation succeeded. */
export class Stopped extends MixnetError {
  /** Creates the error; its status is unavailable. */
  constructor(cause?: unknown) {
    super("Stopped before the operation succeeded", { status: "unavailable", cause });
  }
}

/** The nominal waits of `schedule`, without jitter: initial, then times the multiplier, capped. */
export function backoffDelay(schedule: BackoffSchedule, failures: number): number {
  const grown = schedule.initialMs * schedule.multiplier ** Math.max(0, failures - 1);
  return Math.min(schedule.maxMs, grown);
}

/**
 * Runs `operation(attempt)` until it resolves, and resolves with its value.
 *
 * @throws {Stopped} when the signal aborts; the last failure when a permanent failure is to be
 * thrown or the next attempt would start after the deadline.
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const { signal } = options;
  const classify = options.classify ?? failureKind;
  const random = options.random ?? Math.random;
  // Consecutive failures of each kind: a change of kind starts that kind's schedule afresh.
  let streak = { kind: undefined as FailureKind | undefined, failures: 0 };
  for (let attempt = 1;; attempt++) {
    const first = attempt === 1 && options.firstAttemptWhenStopped;
    if (signal?.aborted && !first) throw new Stopped();
    try {
      return await operation(attempt);
    } catch (error) {
      if (signal?.aborted) throw new Stopped(error);
      const kind = classify(error);
      streak = { kind, failures: streak.kind === kind ? streak.failures + 1 : 1 };
      const schedule = BACKOFF[kind];
      const nominal = backoffDelay(schedule, streak.failures);
      const waitMs = nominal * (1 + schedule.jitter * (2 * random() - 1));
      const giveUp = (kind === "permanent" && options.permanent === "throw") ||
        (options.deadlineMs !== undefined && Date.now() + waitMs > options.deadlineMs);
      options.onFailure?.({ error, attempt, kind, retryInMs: giveUp ? undefined : waitMs });
      if (giveUp) throw error;
      const woken = kind === "transient" ? options.reconnected?.(Date.now() + waitMs) : undefined;
      await (woken ? Promise.race([sleep(waitMs, signal), woken]) : sleep(waitMs, signal));
    }
  }
}

/**
 * Logs a failed attempt the one way every retry loop does, rate-limited: a transient failure
 * as a warning `<what> failed, retrying`, a permanent one as an error `<what> refused,
 * retrying slowly` when a peer refused it (`<what> failed, retrying slowly` for a local
 * failure; without `, retrying slowly` when it is not retried), with the reason (a refusal's
 * names the peer and the method), the attempt and the caller's `fields`.
 */
export function logRetry(
  log: RateLimitedLog,
  what: string,
  failure: RetryFailure,
  fields: Record<string, string | number | undefined> = {},
): void {
  const all = {
    ...fields,
    attempt: failure.attempt,
    retry_ms: failure.retryInMs === undefined ? undefined : Math.round(failure.retryInMs),
    error: errorMessage(failure.error),
  };
  if (failure.kind === "transient") return log.warn(`${what} failed, retrying`, all);
  const verb = failure.error instanceof RpcError ? "refused" : "failed";
  log.error(`${what} ${verb}${failure.retryInMs === undefined ? "" : ", retrying slowly"}`, all);
}
