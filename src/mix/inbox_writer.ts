/**
 * Group commit of the first mix's intake: the client packets accepted in one turn of the event
 * loop are stored in one transaction, and each is acknowledged only once it is on disk.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import type { MixStore } from "./store.ts";

/** A client packet to store in the inbox. */
export type InboxRow = Parameters<MixStore["addAllToInbox"]>[0][number];

/**
 * Stores client packets in groups: every packet added in one turn of the event loop goes into
 * one transaction (at 10,000 clients, a packet costs 28 us stored alone and about 10 us in a
 * group of 32 or more). Each waiter learns its own packet's fate once the group is committed.
 */
export class InboxWriter {
  readonly #store: Pick<MixStore, "addAllToInbox">;
  readonly #onStored: ((round: number, rows: readonly InboxRow[]) => void) | undefined;
  #pending: { row: InboxRow; done: PromiseWithResolvers<boolean> }[] = [];
  #timer: ReturnType<typeof setImmediate> | undefined;

  /**
   * `onStored` is called, per round, with the rows of each group written, synchronously in
   * {@link flush}: a round's packets are all handed over by the time it can close.
   */
  constructor(
    store: Pick<MixStore, "addAllToInbox">,
    onStored?: (round: number, rows: readonly InboxRow[]) => void,
  ) {
    this.#store = store;
    this.#onStored = onStored;
  }

  /**
   * Stores `row` with the others of this turn: true once it is on disk, false when its
   * client's slot in the round is taken.
   *
   * @throws {MixnetError} the store's, for every row of a group that could not be written.
   */
  add(row: InboxRow): Promise<boolean> {
    const done = Promise.withResolvers<boolean>();
    this.#pending.push({ row, done });
    // Once this turn's I/O is handled (setTimeout would wait 2 ms in Deno).
    this.#timer ??= setImmediate(() => this.flush());
    return done.promise;
  }

  /** Stores what is pending now, in one transaction (before a round closes, or at a stop). */
  flush(): void {
    clearImmediate(this.#timer);
    this.#timer = undefined;
    const group = this.#pending;
    if (group.length === 0) return;
    this.#pending = [];
    let stored: boolean[];
    try {
      stored = this.#store.addAllToInbox(group.map((p) => p.row));
    } catch (error) {
      for (const p of group) p.done.reject(error);
      return;
    }
    group.forEach((p, i) => p.done.resolve(stored[i]));
    if (!this.#onStored) return;
    const rounds = Map.groupBy(group.filter((_, i) => stored[i]).map((p) => p.row), (r) => r.round);
    for (const [round, rows] of rounds) this.#onStored(round, rows);
  }
}
