/**
 * The network's live status, read from its children's log lines: the latest round, packets
 * in and out at each mix, drops, and the last delivery latency a client measured.
 *
 * @module
 */

interface MixState {
  round: number;
  in: number;
  out: number;
}

/** Folds log lines into one status line. */
export class NetworkStatus {
  readonly #mixes = new Map<string, MixState>();
  #dropped = 0;
  #delivered = 0;
  #lastLatencyMs: number | undefined;

  /** Creates a status for the mixes `mixIds`, in cascade order. */
  constructor(mixIds: readonly string[]) {
    for (const id of mixIds) this.#mixes.set(id, { round: -1, in: 0, out: 0 });
  }

  /** Reads one log line of node `id`; returns whether it was a per-round line. */
  observe(id: string, line: string): boolean {
    const fields = Object.fromEntries(
      [...line.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1], m[2]]),
    );
    if (/ round (processed|stored) /.test(line)) {
      const mix = this.#mixes.get(id);
      if (mix) {
        mix.round = Number(fields.round);
        mix.in = Number(fields.in);
        mix.out = Number(fields.out);
      }
      this.#dropped += Number(fields.dropped ?? 0);
      return true;
    }
    if (/ message delivered /.test(line)) {
      this.#delivered++;
      this.#lastLatencyMs = Number(fields.latency_ms);
    }
    return false;
  }

  /** The status line. */
  toString(): string {
    const round = Math.max(...[...this.#mixes.values()].map((m) => m.round));
    const mixes = [...this.#mixes].map(([id, m]) => `${id} ${m.in}→${m.out}`).join(" | ");
    const latency = this.#lastLatencyMs === undefined
      ? "-"
      : `${Math.round(this.#lastLatencyMs)} ms`;
    return `round ${round < 0 ? "-" : round} | ${mixes} | dropped ${this.#dropped} | ` +
      `self-deliveries ${this.#delivered}, last ${latency}`;
  }
}
