/**
 * The network's live status, read from its children's log lines: the latest round, packets
 * in and out at each mix, drops, and the clients' loop cover (loops back out of those sent,
 * the last loop's round trip, and which clients have raised the alarm).
 *
 * @module
 */

interface MixState {
  round: number;
  in: number;
  out: number;
}

interface LoopState {
  sent: number;
  returned: number;
  lost: number;
  latencyMs?: number;
  alarm: boolean;
}

/** Folds log lines into one status line. */
export class NetworkStatus {
  readonly #mixes = new Map<string, MixState>();
  readonly #loops = new Map<string, LoopState>();
  #dropped = 0;
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
    if (/ loops (sent|lost)=/.test(line)) {
      const loop: LoopState = {
        sent: Number(fields.sent ?? 0),
        returned: Number(fields.returned ?? 0),
        lost: Number(fields.lost ?? 0),
        latencyMs: fields.latency_ms === undefined ? undefined : Number(fields.latency_ms),
        alarm: fields.alarm === "true",
      };
      this.#loops.set(id, loop);
      if (loop.latencyMs !== undefined) this.#lastLatencyMs = loop.latencyMs;
      return true;
    }
    if (/ loops lost: /.test(line)) {
      const loop = this.#loops.get(id) ?? { sent: 0, returned: 0, lost: 0, alarm: false };
      this.#loops.set(id, { ...loop, alarm: true, lost: loop.lost + Number(fields.lost ?? 1) });
    }
    if (/ loops come back again/.test(line)) {
      const loop = this.#loops.get(id);
      if (loop) loop.alarm = false;
    }
    return false;
  }

  /** The status line. */
  toString(): string {
    const round = Math.max(...[...this.#mixes.values()].map((m) => m.round));
    const mixes = [...this.#mixes].map(([id, m]) => `${id} ${m.in}→${m.out}`).join(" | ");
    const loops = [...this.#loops.values()];
    const sum = (key: "sent" | "returned" | "lost") => loops.reduce((n, l) => n + l[key], 0);
    const latency = this.#lastLatencyMs === undefined
      ? "-"
      : `${(this.#lastLatencyMs / 1000).toFixed(2)} s`;
    const alarms = [...this.#loops].filter(([, l]) => l.alarm).map(([id]) => id);
    return `round ${round < 0 ? "-" : round} | ${mixes} | dropped ${this.#dropped} | ` +
      `loops back ${sum("returned")}/${sum("sent")}, lost ${sum("lost")}, last ${latency}` +
      (alarms.length ? ` | ALARM ${alarms.join(", ")}: loops lost` : "");
  }
}
