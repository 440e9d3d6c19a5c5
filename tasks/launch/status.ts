/**
 * The network's live status, read from its children's log records: each mix's own last round
 * (a mix that falls behind, or is stuck forwarding, shows an older round than the one before
 * it), packets in and out, drops, a mix still retrying a forward, and the clients' loop cover
 * (loops back out of those sent, the last loop's round trip, and which clients raised the
 * alarm).
 *
 * @module
 */
import type { LogRecord } from "../../src/log.ts";

interface MixState {
  round: number;
  in: number;
  out: number;
  /** The round a forward is being retried for, until the next mix is back. */
  retrying?: number;
}

interface LoopState {
  sent: number;
  returned: number;
  lost: number;
  latencyMs?: number;
  alarm: boolean;
}

/** Folds log records into one status line. */
export class NetworkStatus {
  readonly #mixes = new Map<string, MixState>();
  readonly #loops = new Map<string, LoopState>();
  #dropped = 0;
  #lastLatencyMs: number | undefined;

  /** Creates a status for the mixes `mixIds`, in cascade order. */
  constructor(mixIds: readonly string[]) {
    for (const id of mixIds) this.#mixes.set(id, { round: -1, in: 0, out: 0 });
  }

  /** Reads one record of node `id`; returns whether it was a routine per-round record. */
  observe(id: string, record: LogRecord): boolean {
    const number = (key: string, fallback = 0) => {
      const value = Number(record[key]);
      return Number.isFinite(value) ? value : fallback;
    };
    const mix = this.#mixes.get(id);
    switch (record.message) {
      case "round processed":
      case "round stored":
        if (mix) {
          Object.assign(mix, { round: number("round"), in: number("in"), out: number("out") });
        }
        this.#dropped += number("dropped");
        return true;
      case "forward failed, retrying":
      case "forward refused, retrying slowly":
        if (mix) mix.retrying = number("round");
        return false;
      case "next mix is back":
        if (mix) mix.retrying = undefined;
        return false;
      case "loops": {
        const loop: LoopState = {
          sent: number("sent"),
          returned: number("returned"),
          lost: number("lost"),
          latencyMs: record.latency_ms === undefined ? undefined : number("latency_ms"),
          alarm: record.alarm === true,
        };
        this.#loops.set(id, loop);
        if (loop.latencyMs !== undefined) this.#lastLatencyMs = loop.latencyMs;
        return true;
      }
      case "loops come back again": {
        const loop = this.#loops.get(id);
        if (loop) loop.alarm = false;
        return false;
      }
    }
    if (record.message.startsWith("loops lost")) {
      const loop = this.#loops.get(id) ?? { sent: 0, returned: 0, lost: 0, alarm: false };
      this.#loops.set(id, { ...loop, alarm: true, lost: loop.lost + number("lost", 1) });
    }
    return false;
  }

  /** Each mix's own last round, in cascade order (-1 before its first). */
  get rounds(): Record<string, number> {
    return Object.fromEntries([...this.#mixes].map(([id, m]) => [id, m.round]));
  }

  /** The status line. */
  toString(): string {
    const mixes = [...this.#mixes].map(([id, m]) =>
      `${id} r${m.round < 0 ? "-" : m.round} ${m.in}→${m.out}` +
      (m.retrying === undefined ? "" : ` (retrying r${m.retrying})`)
    ).join(" | ");
    const loops = [...this.#loops.values()];
    const sum = (key: "sent" | "returned" | "lost") => loops.reduce((n, l) => n + l[key], 0);
    const latency = this.#lastLatencyMs === undefined
      ? "-"
      : `${(this.#lastLatencyMs / 1000).toFixed(2)} s`;
    const alarms = [...this.#loops].filter(([, l]) => l.alarm).map(([id]) => id);
    return `${mixes} | dropped ${this.#dropped} | ` +
      `loops back ${sum("returned")}/${sum("sent")}, lost ${sum("lost")}, last ${latency}` +
      (alarms.length ? ` | ALARM ${alarms.join(", ")}: loops lost` : "");
  }
}
