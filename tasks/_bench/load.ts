/**
 * Load mode: many simulated clients (one load-generator process holding every identity) send
 * one 1 KiB packet each per round, for minutes, through real mix processes. Reports rounds the
 * network missed or shrank, and each mix's RSS at the start and the end.
 *
 * @module
 */
import { createSealedBox } from "../../src/crypto/mod.ts";
import { buildOnion, PayloadKind } from "../../src/onion/mod.ts";
import { readMetrics, simulateClients, startTempNetwork } from "./temp_network.ts";

/** Figures of one load run. */
export interface LoadResult {
  readonly num_clients: number;
  readonly round_s: number;
  readonly rounds: number;
  /** Rounds whose batch at the first mix held fewer packets than clients. */
  readonly short_rounds: number;
  /** Packets refused or failed at the first mix. */
  readonly send_errors: number;
  /** Median and worst round latency, first mix in to last mix stored. */
  readonly median_latency_s: number;
  readonly max_latency_s: number;
  /** Each mix's RSS at the first round, half-way and at the last round (stable: mid ≈ end). */
  readonly rss_start_mb: string;
  readonly rss_mid_mb: string;
  readonly rss_end_mb: string;
  /** The same for the JavaScript heap in use. */
  readonly heap_start_mb: string;
  readonly heap_mid_mb: string;
  readonly heap_end_mb: string;
}

/** Runs `clients` simulated clients at `roundS` per round for `minutes`. */
export async function runLoad(
  clients: number,
  roundS: number,
  minutes: number,
  log: (line: string) => void,
): Promise<LoadResult> {
  const net = await startTempNetwork({
    clients,
    payloadSize: 1024,
    roundDuration: roundS,
    roundTimeout: roundS / 2,
    startClients: false,
  });
  const box = await createSealedBox();
  const simulated = simulateClients(net, box, 10_000);
  try {
    const link = (id: string) => simulated.links.get(id)!;
    await Promise.all(net.config.clients.map((c) => link(c.id).register()));
    const start = await link("client_1").waitForStart();
    const route = net.config.mixServers.map((m) => ({
      address: m.address,
      publicKey: net.keys.get(m.id)!.publicKey,
    }));
    const durationMs = start.round_duration_s * 1000;
    const firstRound = Math.floor((Date.now() - start.epoch_ms) / durationMs) + 1;
    const rounds = Math.round((minutes * 60) / roundS);
    let sendErrors = 0;
    for (let round = firstRound; round < firstRound + rounds; round++) {
      const packets = net.config.clients.map((c) =>
        buildOnion(box, {
          message: new TextEncoder().encode(`load ${round}`),
          kind: PayloadKind.message,
          recipient: { address: c.address, publicKey: net.keys.get(c.id)!.publicKey },
          route,
          payloadSize: 1024,
        })
      );
      const sendAt = start.epoch_ms + (round + 1) * durationMs;
      await new Promise((r) => setTimeout(r, Math.max(0, sendAt - Date.now())));
      const results = await Promise.allSettled(
        net.config.clients.map((c, i) => link(c.id).forward(round, packets[i])),
      );
      sendErrors += results.filter((r) => r.status === "rejected").length;
      if ((round - firstRound) % Math.round(10 / roundS) === 0) {
        log(`round ${round - firstRound + 1}/${rounds}, send errors so far ${sendErrors}`);
      }
    }
    const lastRound = firstRound + rounds - 1;
    await waitForRound(net.metricsFile("mix_3"), lastRound);
    const rss = await Promise.all(
      net.mixes.map((m) => memoryRange(net.metricsFile(m.id), firstRound, "rss_mb")),
    );
    const heap = await Promise.all(
      net.mixes.map((m) => memoryRange(net.metricsFile(m.id), firstRound, "heap_mb")),
    );
    const m1 = (await readMetrics(net.metricsFile("mix_1")))
      .filter((r) =>
        r.event === "round" && Number(r.round) >= firstRound && Number(r.round) <= lastRound
      );
    const m3 = new Map(
      (await readMetrics(net.metricsFile("mix_3")))
        .filter((r) => r.event === "round")
        .map((r) => [Number(r.round), Number(r.committed_ms)]),
    );
    const latencies = m1
      .map((r) => (m3.get(Number(r.round))! - Number(r.first_arrival_ms)) / 1000)
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    return {
      num_clients: clients,
      round_s: roundS,
      rounds,
      short_rounds: rounds - m1.filter((r) => Number(r.batch_in) === clients).length,
      send_errors: sendErrors,
      median_latency_s: latencies[Math.floor(latencies.length / 2)],
      max_latency_s: latencies[latencies.length - 1],
      rss_start_mb: rss.map((r) => r[0]).join("/"),
      rss_mid_mb: rss.map((r) => r[1]).join("/"),
      rss_end_mb: rss.map((r) => r[2]).join("/"),
      heap_start_mb: heap.map((r) => r[0]).join("/"),
      heap_mid_mb: heap.map((r) => r[1]).join("/"),
      heap_end_mb: heap.map((r) => r[2]).join("/"),
    };
  } finally {
    simulated.close();
    await net.stop();
  }
}

async function waitForRound(file: string, round: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await readMetrics(file)).some((r) => r.event === "round" && r.round === round)) {
    if (Date.now() > deadline) throw new Error(`round ${round} never reached the last mix`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A memory figure a mix reported at the first, middle and last round of the run, MiB. */
async function memoryRange(
  metricsFile: string,
  firstRound: number,
  field: "rss_mb" | "heap_mb",
): Promise<number[]> {
  const rounds = (await readMetrics(metricsFile))
    .filter((r) => r.event === "round" && Number(r.round) >= firstRound);
  return [0, Math.floor(rounds.length / 2), rounds.length - 1]
    .map((i) => Number(rounds[i]?.[field] ?? NaN));
}
