import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import type { RoundRecord } from "../../src/mix/mod.ts";
import type { ForwardBatchRequest, ForwardMessageRequest } from "../../src/rpc/mod.ts";

const ROUND_MS = 400;
const TIMEOUT_MS = 200;

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a client that stops, a client whose packets arrive late and a mix that answers slowly: every round still closes, full, and the drops are reported", async () => {
  const net = await createTestNetwork({
    clients: 4,
    roundDuration: ROUND_MS / 1000,
    roundTimeout: TIMEOUT_MS / 1000,
  });
  const hops: ProxiedMix[] = [];
  const roundsAt = (id: string) =>
    (id === "mix_3" ? net.mixes.get(id)! : hops.find((h) => h.id === id)!.node).metrics.recent
      .filter((r): r is RoundRecord & { event: "round" } => r.event === "round");
  // Batches mix_2 held until mix_1 had processed a later round (more than a round), and those
  // held in vain: mix_1 processed no later round while it waited for mix_2.
  const held: number[] = [];
  const stalled: number[] = [];
  try {
    await net.startMix("mix_3");
    hops.push(
      await startProxiedMix(net, "mix_2", {
        hook: async (method, request, relay) => {
          const round = (request as ForwardBatchRequest).round;
          if (method !== "ForwardBatch" || round % 4 !== 0) return relay(request);
          // Slow: answer only once mix_1 has gone on to process a later round meanwhile.
          await waitUntil(
            () => roundsAt("mix_1").some((r) => r.round > round),
            10_000,
            `mix_1 past round ${round}`,
          ).then(() => held.push(round), () => stalled.push(round));
          return relay(request);
        },
      }),
    );
    // client_3 sits behind a slow link: its packets reach mix_1 after the round's deadline.
    hops.push(
      await startProxiedMix(net, "mix_1", {
        hook: async (method, request, relay) => {
          if (method === "ForwardMessage") {
            if ((request as ForwardMessageRequest).client_id === "client_3") {
              await delay(TIMEOUT_MS + 100);
            }
          }
          return relay(request);
        },
      }),
    );
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const sent = Array.from({ length: 8 }, (_, i) => `from client_1 #${i}`);
    for (const [from, texts] of [["client_1", sent], ["client_3", ["stuck behind the link"]]]) {
      for (const message of texts as string[]) {
        await net.client(from as string).prepareMessage({
          message,
          recipient_pubkey: net.keyFile("client_4"),
          recipient_addr: net.config.clients[3].address,
        });
      }
    }
    // client_2 stops sending after a couple of rounds.
    await waitUntil(() => roundsAt("mix_1").length >= 2, 10_000, "two rounds at mix_1");
    await net.stopClient("client_2");
    // The last packet client_2 sent can be in a round still open: start counting after it.
    const first = Math.max(...roundsAt("mix_1").map((r) => r.round)) + 3;
    const last = first + 12;
    await waitUntil(
      () => roundsAt("mix_3").some((r) => r.round >= last),
      30_000,
      `round ${last} at mix_3`,
      50,
    );
    const received: string[] = [];
    await waitUntil(
      async () => {
        received.push(...(await net.client("client_4").pollMessages()).messages);
        return received.length >= sent.length;
      },
      10_000,
      "client_1's messages",
      100,
    );

    // Cadence: every round from first to last was closed, processed and forwarded once at
    // every mix, with a full batch on every link, however late or slow anyone was.
    for (const id of ["mix_1", "mix_2", "mix_3"]) {
      const records = roundsAt(id).filter((r) => r.round >= first && r.round <= last);
      assert.deepEqual(
        records.map((r) => r.round),
        Array.from({ length: last - first + 1 }, (_, i) => first + i),
        `${id} missed or repeated a round`,
      );
      for (const r of records) {
        if (id === "mix_3") assert.equal(r.batch_in, 4, `round ${r.round} into mix_3`);
        else assert.equal(r.batch_out, 4, `round ${r.round} out of ${id}`);
      }
    }
    // Whoever was on time (at most client_1 and client_4), mix_1 topped the batch up with cover.
    for (const r of roundsAt("mix_1").filter((r) => r.round >= first && r.round <= last)) {
      assert.equal(r.batch_in! + r.cover_added!, 4, `round ${r.round} at mix_1`);
      assert.ok(r.batch_in! <= 3, `round ${r.round} at mix_1: client_2 stopped`);
    }
    // The slow mix held batches longer than a round; mix_1 went on processing meanwhile.
    assert.ok(held.length >= 2, `only ${held.length} held batches`);
    assert.deepEqual(stalled, [], "mix_1 processed nothing while these rounds were held");
    // What was dropped is reported: the late packets refused at mix_1, and the late client's
    // missed rounds (its message stays queued for a later round rather than lost).
    const mix1 = hops.find((h) => h.id === "mix_1")!.node.metrics.counters;
    assert.ok(mix1["rejected.closed-round"] >= 1, JSON.stringify(mix1));
    const late = net.clients.get("client_3")!.metrics.counters;
    assert.ok(late["sends.missed"] >= 1, JSON.stringify(late));
    assert.deepEqual(received, sent);
    console.log(
      `rounds ${first}-${last}: mix_1 refused ${mix1["rejected.closed-round"]} late packets, ` +
        `client_3 missed ${late["sends.missed"]} rounds, ${held.length} batches held by mix_2`,
    );
  } finally {
    await closeProxied(net, hops);
  }
});
