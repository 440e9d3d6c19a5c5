/**
 * Rounds that stretch when the cascade is behind. A mix is behind when rounds wait in it: closed
 * or received and not yet started, or processed and waiting in the outbox behind the round being
 * forwarded. The round each stage is working on is not waiting, so a cascade that keeps up
 * waits on nothing, however many rounds are in flight in it (short rounds and slow links put
 * many in flight). Every mix answers each batch with the rounds waiting in it and, as its next
 * mix last said, after it; the first mix adds its own. When a round's first packet arrives and
 * more rounds than `max_backlog_rounds` wait, every client is told, in its acknowledgement, to
 * skip as many rounds as are over (at most {@link MAX_SKIP}) before its next packet. Those
 * rounds are paused: nobody sends, the first mix closes them without processing them, and no
 * cover is made for them. A paused round adds no waiting round, so a pause lasts only as long
 * as the cascade needs to drain. Offered load beyond what the cascade carries thus waits in the
 * clients' queues, where nothing is lost; a message's latency stays bounded however long the
 * network runs; and every round that does run holds every client, so its anonymity set does not
 * shrink.
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
  /** Rounds waiting in the cascade that are tolerated. */
  readonly maxBacklog: number;
  /** Rounds waiting in this mix now and, as its next mix last said, after it. */
  readonly waiting: () => number;
  readonly metrics: Metrics<RoundRecord>;
  readonly logger: Logger;
}

/** Decides, round by round, where every client sends next. */
export class Pacer {
  readonly #o: PacerOptions;
  /** The next round decided for the acknowledgements of each round, once asked. */
  readonly #decided = new Map<number, number>();
  /** Rounds nobody sends in. */
  readonly #paused = new Set<number>();

  /** Creates a pacer that pauses nothing until rounds wait. */
  constructor(options: PacerOptions) {
    this.#o = options;
  }

  /** Whether `round` is paused: nobody sends in it and it is closed unprocessed. */
  isPaused(round: number): boolean {
    return this.#paused.has(round);
  }

  /**
   * The round the clients whose packets of `round` are acknowledged send in next, the same for
   * every one of them: decided when the round's first packet is, from the rounds waiting then.
   */
  nextRound(round: number): number {
    let next = this.#decided.get(round);
    if (next !== undefined) return next;
    const waiting = this.#o.waiting();
    const skip = Math.min(MAX_SKIP, Math.max(0, waiting - this.#o.maxBacklog));
    next = round + 1 + skip;
    this.#decided.set(round, next);
    for (let r = round + 1; r < next; r++) this.#paused.add(r);
    if (skip > 0) {
      this.#o.metrics.count("rounds.paused", skip);
      this.#o.logger.info("cascade behind: rounds paused", {
        waiting,
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
