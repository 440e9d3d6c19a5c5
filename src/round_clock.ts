/**
 * Round arithmetic shared by mixes and clients. Round r spans
 * [epoch + r·d, epoch + (r+1)·d); clients send it at its end, epoch + (r+1)·d, computed from
 * the epoch rather than by accumulating sleeps, so nobody drifts.
 *
 * @module
 */

/** The round clock the first mix announces in `WaitForStart`. */
export class RoundClock {
  /** Wall-clock ms at which round 0 starts. */
  readonly epochMs: number;
  /** Round length in ms. */
  readonly durationMs: number;

  /** Creates a clock from the epoch (ms) and the round duration (seconds). */
  constructor(epochMs: number, roundDurationS: number) {
    this.epochMs = epochMs;
    this.durationMs = roundDurationS * 1000;
  }

  /** The round in progress at `nowMs` (negative before the epoch). */
  roundAt(nowMs: number): number {
    return Math.floor((nowMs - this.epochMs) / this.durationMs);
  }

  /** When clients send round `round`: the end of that round. */
  sendTime(round: number): number {
    return this.epochMs + (round + 1) * this.durationMs;
  }
}

/** Wall-clock time in ms with sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
