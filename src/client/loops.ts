/**
 * Loop cover (as in Loopix): at one random round of every `loop_every` rounds a client sends a
 * message to its own mailbox instead of a dummy. No mix can tell it from a real message, so a
 * mix that drops this client's packets, as in an n-1 attack at the first mix, drops its loops
 * too. A loop is known lost, not merely late, once the last mix says it has stored the loop's
 * round and the mailbox holds nothing more: then the client raises the alarm.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { randomBelow } from "../random.ts";
import type { ClientRecord } from "./context.ts";
import type { ClientStore, LoopInFlight } from "./store.ts";

/** Least time between two summary lines in the log. */
const REPORT_MS = 10_000;

/** Options of {@link LoopCover}. */
export interface LoopCoverOptions {
  /** One loop per this many rounds; 0 sends none. */
  readonly every: number;
  readonly store: ClientStore;
  readonly metrics: Metrics<ClientRecord>;
  readonly logger: Logger;
}

/** Schedules a client's loops and watches them come back. */
export class LoopCover {
  readonly #o: LoopCoverOptions;
  /** The loop round drawn for each window of `every` rounds. */
  readonly #rounds = new Map<number, number>();
  #alarm = false;
  #lastLatencyMs: number | undefined;
  #reportedMs = 0;

  /** Creates the loop schedule. */
  constructor(options: LoopCoverOptions) {
    this.#o = options;
  }

  /** Whether an alarm is raised: a loop was lost and none came back since. */
  get alarm(): boolean {
    return this.#alarm;
  }

  /** Whether this client sends its loop in `round`. */
  isLoopRound(round: number): boolean {
    const every = this.#o.every;
    if (every === 0) return false;
    const window = Math.floor(round / every);
    let chosen = this.#rounds.get(window);
    if (chosen === undefined) {
      chosen = window * every + randomBelow(every);
      this.#rounds.set(window, chosen);
      // Windows before the previous one are never asked for again.
      this.#rounds.delete(window - 2);
    }
    return chosen === round;
  }

  /** Records a loop before its first attempt, so it is known whenever it comes back. */
  sending(id: Uint8Array, round: number): void {
    this.#o.store.loopSending(id, round);
  }

  /** Records that the first mix accepted a loop: from now on it must come back. */
  sent(id: Uint8Array): void {
    this.#o.store.loopAcknowledged(id);
    this.#o.metrics.count("loops.sent");
  }

  /** Forgets a loop that missed its round (it was never accepted). */
  missed(id: Uint8Array): void {
    this.#o.store.loopMissed(id);
  }

  /**
   * Takes the loops a fetch brought back and what the last mix said (the last round it stored,
   * and how many packets still wait in the mailbox); returns the ids of the loops that are no
   * longer in flight (back, or lost), for the store. An acknowledged loop is lost once its round
   * is stored and the mailbox holds nothing more.
   */
  fetched(returned: readonly Uint8Array[], storedRound: number, pending: number): Uint8Array[] {
    const { metrics, logger } = this.#o;
    const inFlight = this.#o.store.loopsInFlight();
    const key = (id: Uint8Array) => id.join(",");
    const back = new Set(returned.map(key));
    const done: Uint8Array[] = [];
    const lost: LoopInFlight[] = [];
    for (const loop of inFlight) {
      if (back.has(key(loop.id))) {
        done.push(loop.id);
        metrics.count("loops.returned");
        this.#lastLatencyMs = Date.now() - loop.sentMs;
      } else if (loop.acked && pending === 0 && loop.round <= storedRound) {
        // Its round is stored and nothing is left in the mailbox: it is not coming.
        done.push(loop.id);
        lost.push(loop);
      }
    }
    if (lost.length > 0) {
      metrics.count("loops.lost", lost.length);
      this.#alarm = true;
      logger.warn(
        "loops lost: a mix may be dropping this client's packets (an n-1 attack at the first mix?)",
        { lost: lost.length, since_round: lost[0].round, stored_round: storedRound },
      );
    } else if (this.#alarm && done.length > 0) {
      this.#alarm = false;
      logger.info("loops come back again");
    }
    this.#report();
    return done;
  }

  /** A summary line now and then: counts and the last latency, never which round had a loop. */
  #report(): void {
    if (this.#o.every === 0 || Date.now() - this.#reportedMs < REPORT_MS) return;
    this.#reportedMs = Date.now();
    const counters = this.#o.metrics.counters;
    this.#o.logger.info("loops", {
      sent: counters["loops.sent"] ?? 0,
      returned: counters["loops.returned"] ?? 0,
      lost: counters["loops.lost"] ?? 0,
      latency_ms: this.#lastLatencyMs === undefined ? undefined : Math.round(this.#lastLatencyMs),
      alarm: this.#alarm,
    });
  }
}
