/**
 * Rounds that stretch when the cascade is behind. The first mix learns, with every batch the
 * next mix acknowledges, the last round the last mix has stored; the rounds it closed since are
 * the cascade's backlog. When a round's first packet arrives and the backlog is over
 * `max_backlog_rounds`, every client is told, in its acknowledgement, to skip as many rounds as
 * the backlog is over (at most {@link MAX_SKIP}) before its next packet. Those rounds are
 * paused: nobody sends, the first mix closes them without processing them, and no cover is made
 * for them. So offered load beyond what the cascade carries waits in the clients' queues, where
 * nothing is lost; a message's latency stays bounded however long the network runs; and every
 * round that does run holds every client, so its anonymity set does not shrink.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { RoundRecord } from "./processor.ts";

/** Most rounds one decision pauses: the next decision comes with the next round that runs. */
const MAX_SKIP = 10;

/** Options of {@link Pacer}. */
export interface PacerOptions {
  /** Rounds closed at the first mix and not yet stored at the last that are tolerated. */
  readonly maxBacklog: number;
  readonly metrics: Metrics<RoundRecord>;
  readonly logger: Logger;
}

/** Decides, round by round, where every client sends next. */
export class Pacer {
  readonly #o: PacerOptions;
  /** The last round stored at the last mix, once a batch's acknowledgement said so. */
  #cascadeRound: number | undefined;
  /** The next round decided for the acknowledgements of each round, once asked. */
  readonly #decided = new Map<number, number>();
  /** Rounds nobody sends in. */
  readonly #paused = new Set<number>();

  /** Creates a pacer that pauses nothing until it knows the cascade's progress. */
  constructor(options: PacerOptions) {
    this.#o = options;
  }

  /** Takes the last mix's progress from a batch's acknowledgement. */
  cascadeStored(round: number): void {
    if (round >= 0) this.#cascadeRound = Math.max(this.#cascadeRound ?? -1, round);
  }

  /** Whether `round` is paused: nobody sends in it and it is closed unprocessed. */
  isPaused(round: number): boolean {
    return this.#paused.has(round);
  }

  /**
   * The round the clients whose packets of `round` are acknowledged send in next, the same for
   * every one of them: decided when the round's first packet is, from the backlog as it is then
   * (`lastClosed`, the last round this mix closed).
   */
  nextRound(round: number, lastClosed: number): number {
    let next = this.#decided.get(round);
    if (next !== undefined) return next;
    const backlog = this.#cascadeRound === undefined ? 0 : lastClosed - this.#cascadeRound;
    const skip = Math.min(MAX_SKIP, Math.max(0, backlog - this.#o.maxBacklog));
    next = round + 1 + skip;
    this.#decided.set(round, next);
    for (let r = round + 1; r < next; r++) this.#paused.add(r);
    if (skip > 0) {
      this.#o.metrics.count("rounds.paused", skip);
      this.#o.logger.info("cascade behind: rounds paused", {
        backlog,
        paused_from: round + 1,
        paused_to: next - 1,
      });
    }
    // Forget what no packet can concern any more.
    for (const r of this.#decided.keys()) if (r < round - 64) this.#decided.delete(r);
    for (const r of this.#paused) if (r < round - 64) this.#paused.delete(r);
    return next;
  }
}
