/**
 * Scale mode: 100, 1,000 or 10,000 clients at 1 KiB. The mixes are real processes; the
 * clients are simulated by this load generator, which holds every identity, registers them,
 * builds one onion each and sends them all in one round. Measures the round's latency through
 * the three mixes, packets per second each mix peels, and each mix's peak RSS.
 *
 * @module
 */
import { createSealedBox } from "../../src/crypto/mod.ts";
import { buildOnion, PayloadKind } from "../../src/onion/mod.ts";
import { readMetrics, simulateClients, startTempNetwork } from "./temp_network.ts";

/** Figures of one scale run. */
export interface ScaleResult {
  readonly num_clients: number;
  /** From the first mix starting to process the round to the last mix storing it. */
  readonly round_latency_s: number;
  /** From the first to the last packet of the round arriving at the first mix. */
  readonly intake_s: number;
  /** Each mix's processing of the round (closed or received to committed), seconds; the rest
   * of `round_latency_s` is the two forwards. */
  readonly mix_1_s: number;
  readonly mix_2_s: number;
  readonly mix_3_s: number;
  /** From mix_1 (mix_2) committing the round to the next mix starting on it, seconds. */
  readonly hop_12_s: number;
  readonly hop_23_s: number;
  readonly mix_1_pps: number;
  readonly mix_2_pps: number;
  readonly mix_3_pps: number;
  readonly mix_1_peak_rss_mb: number;
  readonly mix_2_peak_rss_mb: number;
  readonly mix_3_peak_rss_mb: number;
  readonly delivered: number;
}

/**
 * Calls the load generator keeps in flight while it sends a round: every client sends at the
 * round's start, so the more the closer to real clients (at 10,000 clients 1,024 took the
 * intake from about 1.04 to 0.88 s, median, against 128).
 */
const IN_FLIGHT = 1024;

/** Runs one round with `clients` simulated clients of 1 KiB messages. */
export async function runScale(clients: number, log: (line: string) => void): Promise<ScaleResult> {
  const roundDuration = Math.max(1, clients / 1000);
  const net = await startTempNetwork({
    clients,
    payloadSize: 1024,
    roundDuration,
    roundTimeout: roundDuration * 2,
    startClients: false,
    // The simulated clients send in one round only; real ones send every round. Without this
    // each silent round before it would be topped up with N cover packets by every mix.
    minBatch: 0,
  });
  const box = await createSealedBox();
  const simulated = simulateClients(net, box, 120_000);
  try {
    const link = (id: string) => simulated.links.get(id)!;
    log(`registering ${clients} clients`);
    await inParallel(net.config.clients, 64, async (c) => {
      await link(c.id).register();
    });
    const start = await link("client_1").waitForStart();
    const route = net.config.mixServers.map((m) => ({
      address: m.address,
      publicKey: net.keys.get(m.id)!.publicKey,
    }));
    log(`building ${clients} onions`);
    const packets = net.config.clients.map((c, i) =>
      buildOnion(box, {
        message: new TextEncoder().encode(`scale ${i}`),
        kind: PayloadKind.message,
        recipient: { address: c.address, publicKey: net.keys.get(c.id)!.publicKey },
        route,
        payloadSize: 1024,
      })
    );
    // Send every packet at the start of the next full round, signed before it as each client
    // signs its own on its own CPU: the intake then measures the first mix, not this process.
    const durationMs = start.round_duration_s * 1000;
    const round = Math.floor((Date.now() - start.epoch_ms) / durationMs) + 1;
    const requests = net.config.clients.map((c, i) => link(c.id).forwardRequest(round, packets[i]));
    await new Promise((r) =>
      setTimeout(r, Math.max(0, start.epoch_ms + round * durationMs - Date.now()))
    );
    log(`sending round ${round}`);
    await inParallel(requests, IN_FLIGHT, async (request) => {
      await simulated.first.forwardMessage(request);
    });
    const records = await waitForRound(net.metricsFile("mix_3"), round, 300_000);
    const m1 = (await readMetrics(net.metricsFile("mix_1"))).find((r) =>
      r.event === "round" && r.round === round
    )!;
    const m2 = (await readMetrics(net.metricsFile("mix_2"))).find((r) =>
      r.event === "round" && r.round === round
    )!;
    const rss = await Promise.all(net.mixes.map((m) => peakRssMb(net.metricsFile(m.id))));
    const pps = (r: Record<string, unknown>) =>
      Math.round(Number(r.batch_in) / (Number(r.peel_ms) / 1000));
    const processing = (r: Record<string, unknown>) =>
      (Number(r.committed_ms) - Number(r.started_ms)) / 1000;
    return {
      num_clients: clients,
      round_latency_s: (Number(records.committed_ms) - Number(m1.started_ms)) / 1000,
      intake_s: (Number(m1.last_arrival_ms) - Number(m1.first_arrival_ms)) / 1000,
      mix_1_s: processing(m1),
      mix_2_s: processing(m2),
      mix_3_s: processing(records),
      hop_12_s: (Number(m2.started_ms) - Number(m1.committed_ms)) / 1000,
      hop_23_s: (Number(records.started_ms) - Number(m2.committed_ms)) / 1000,
      mix_1_pps: pps(m1),
      mix_2_pps: pps(m2),
      mix_3_pps: pps(records),
      mix_1_peak_rss_mb: rss[0],
      mix_2_peak_rss_mb: rss[1],
      mix_3_peak_rss_mb: rss[2],
      delivered: Number(records.batch_out),
    };
  } finally {
    simulated.close();
    await net.stop();
  }
}

async function waitForRound(file: string, round: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = (await readMetrics(file)).find((r) => r.event === "round" && r.round === round);
    if (record) return record;
    if (Date.now() > deadline) throw new Error(`round ${round} never reached the last mix`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The largest resident memory a mix reported in its round records, MiB. */
async function peakRssMb(metricsFile: string): Promise<number> {
  return Math.max(...(await readMetrics(metricsFile)).map((r) => Number(r.rss_mb ?? 0)));
}

/**
 * Calls `fn` on every item with at most `limit` calls in flight: each finished call makes room
 * for the next, as independent clients do (lockstep batches would wait for each batch's slowest).
 */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
