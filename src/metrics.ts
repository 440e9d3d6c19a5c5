/**
 * Metrics of a node: named counters, and per-event records (one per round at a mix, one per
 * message at a client) kept in memory and optionally appended as JSON lines to a file.
 *
 * @module
 */

import type { Logger } from "./log.ts";

/** How many records stay in memory. */
const RECENT = 4096;

/** Counters and records of one node. */
export class Metrics<T extends object> {
  readonly #recent: T[] = [];
  readonly #counters: Record<string, number> = {};
  readonly #file: string | undefined;
  readonly #node: string;
  readonly #logger: Logger | undefined;

  /**
   * Creates metrics for node `node`, appending records to `file` when given; a record that
   * cannot be written is counted as `metrics.unwritten` and reported to `logger` once.
   */
  constructor(node: string, file?: string, logger?: Logger) {
    this.#node = node;
    this.#file = file;
    this.#logger = logger;
  }

  /** Adds `n` to counter `name`. */
  count(name: string, n = 1): void {
    this.#counters[name] = (this.#counters[name] ?? 0) + n;
  }

  /** Keeps a record in memory and appends it to the metrics file. */
  record(entry: T): void {
    this.#recent.push(entry);
    if (this.#recent.length > RECENT) this.#recent.shift();
    if (this.#file) {
      const line = JSON.stringify({ node: this.#node, time_ms: Date.now(), ...entry });
      try {
        Deno.writeTextFileSync(this.#file, line + "\n", { append: true });
      } catch (error) {
        // Metrics never stop the node: a full disk costs records, not rounds.
        if (!this.#counters["metrics.unwritten"]) {
          this.#logger?.error(`cannot append to the metrics file ${this.#file}`, {
            error: (error as Error).message,
          });
        }
        this.count("metrics.unwritten");
      }
    }
  }

  /** The most recent records, oldest first. */
  get recent(): readonly T[] {
    return this.#recent;
  }

  /** A snapshot of the counters. */
  get counters(): Readonly<Record<string, number>> {
    return { ...this.#counters };
  }
}
