/**
 * One point of the original benchmark: a fresh network of 3 mixes and N clients, client_1
 * prepares one message of `size` bytes for client_2 (the others send dummies), client_2 is
 * polled every 0.1 s, and three figures are taken on that message's round.
 *
 * @module
 */
import { cookieHeaders, readCookie } from "../../src/client/cookie.ts";
import type { LogRecord } from "../../src/log.ts";
import { ClientStub, maxMessageBytes } from "../../src/rpc/mod.ts";
import { readMetrics, startInProcessNetwork, startTempNetwork } from "./temp_network.ts";

/** The three figures of one run, in seconds. */
export interface PointResult {
  readonly prepare_s: number;
  readonly mix_latency_s: number;
  readonly e2e_s: number;
  /** The round the message left in. */
  readonly round: number;
}

/** Round length of the original benchmark, seconds. */
export const ROUND_S = 0.1;
const POLL_MS = 100;

/**
 * Runs one point; the network is started fresh (its nodes as processes, or all in this one when
 * `inProcess`) and stopped afterwards.
 */
export async function runPoint(
  clients: number,
  size: number,
  options: { inProcess?: boolean } = {},
): Promise<PointResult> {
  const spec = {
    clients,
    payloadSize: size,
    roundDuration: ROUND_S,
    roundTimeout: ROUND_S,
    startClients: true,
  };
  const net = options.inProcess ? await startInProcessNetwork(spec) : await startTempNetwork(spec);
  const limit = maxMessageBytes(net.config);
  const [c1, c2] = net.config.clients;
  const stub = (client: typeof c1) =>
    new ClientStub(client.address, {
      maxMessageBytes: limit,
      name: client.id,
      timeoutMs: 60_000,
      headers: cookieHeaders(readCookie(net.config.keysDir, client.id)),
    });
  const sender = stub(c1);
  const receiver = stub(c2);
  try {
    // A few rounds of dummies first, as a running network would have.
    await new Promise((r) => setTimeout(r, 5 * ROUND_S * 1000));
    const message = "m".repeat(size);
    const key = await Deno.readFile(`${net.dir}/${c2.id}.key`);
    const started = performance.now();
    const prepared = await sender.prepareMessage({
      message,
      recipient_pubkey: key,
      recipient_addr: c2.address,
    });
    let arrived: number | undefined;
    const deadline = started + 60_000;
    while (arrived === undefined) {
      const { messages } = await receiver.pollMessages();
      if (messages.some((m) => m.length === size)) arrived = performance.now();
      else if (performance.now() > deadline) {
        throw new Error(`the message of ${size} B did not arrive within 60 s`);
      } else await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const round = sentRound(net.records(c1.id));
    const first = (await readMetrics(net.metricsFile("mix_1")))
      .find((r) => r.event === "round" && r.round === round);
    const last = (await readMetrics(net.metricsFile("mix_3")))
      .find((r) => r.event === "round" && r.round === round);
    if (!first || !last) throw new Error(`no mix metrics for round ${round}`);
    return {
      prepare_s: prepared.prepare_ms / 1000,
      mix_latency_s: (Number(last.committed_ms) - Number(first.first_arrival_ms)) / 1000,
      e2e_s: (arrived - started) / 1000,
      round,
    };
  } finally {
    sender.close();
    receiver.close();
    await net.stop();
  }
}

/** The round client_1 sent its message in, from its debug log (nothing else tells). */
function sentRound(records: readonly LogRecord[]): number {
  const sent = records.filter((r) => r.message === "message sent");
  if (sent.length !== 1) throw new Error(`client_1 logged ${sent.length} messages sent, not 1`);
  return Number(sent[0].round);
}
