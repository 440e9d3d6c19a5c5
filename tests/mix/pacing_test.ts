/**
 * A cascade that carries a third of what its clients offer (mix_2, or mix_3, takes three rounds
 * per batch): rounds stretch instead of queueing up. A message prepared late in the run arrives
 * about as fast as one prepared early, every round that runs holds every client, and nothing is
 * lost; the paused rounds are counted. With mix_3 slow, the first mix learns it only through
 * mix_2's answers (the rounds waiting in mix_2's outbox).
 */
import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import type { RoundRecord } from "../../src/mix/mod.ts";
import type { ForwardBatchResponse } from "../../src/rpc/mod.ts";

const ROUND_MS = 150;
/** How long mix_2 holds each batch: three rounds. */
const SLOW_MS = 3 * ROUND_MS;

for (const slow of ["mix_2", "mix_3"]) {
  Deno.test(`when the cascade carries less than the clients offer (${slow} slow), rounds stretch: a late message is as fast as an early one and every round is full`, async () => {
    const net = await createTestNetwork({
      clients: 4,
      roundDuration: ROUND_MS / 1000,
      roundTimeout: 0.1,
      extra: { max_backlog_rounds: 2, loop_every: 0 },
    });
    const hops: ProxiedMix[] = [];
    try {
      const proxied = await startProxiedMix(net, slow, {
        hook: async (method, request, relay) => {
          if (method === "ForwardBatch") await new Promise((r) => setTimeout(r, SLOW_MS));
          return relay(request);
        },
      });
      hops.push(proxied);
      // Last mix first, so that every mix's next one is up.
      for (const id of ["mix_3", "mix_2", "mix_1"]) if (id !== slow) await net.startMix(id);
      await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
      const mix1 = net.mixes.get("mix_1")!;
      const to = net.config.clients[1];
      const deliver = async (text: string) => {
        const started = performance.now();
        await net.client("client_1").prepareMessage({
          message: text,
          recipient_pubkey: net.keyFile(to.id),
          recipient_addr: to.address,
        });
        const got: string[] = [];
        await waitUntil(
          async () => {
            got.push(...(await net.client(to.id).pollMessages()).messages);
            return got.length > 0;
          },
          60_000,
          `${text} at ${to.id}`,
          20,
        );
        assert.deepEqual(got, [text]);
        return performance.now() - started;
      };
      const rounds = () =>
        mix1.metrics.recent.filter((r): r is RoundRecord & { event: "round" } =>
          r.event === "round"
        );
      await waitUntil(() => rounds().length >= 3, 10_000, "three rounds at mix_1");
      const early = await deliver("early");
      // Thirty more rounds of full-size cover from every client, three times what the slow mix carries.
      const from = rounds().at(-1)!.round;
      await waitUntil(() => rounds().at(-1)!.round >= from + 30, 60_000, "thirty more rounds");
      const late = await deliver("late");
      const paused = mix1.metrics.counters["rounds.paused"] ?? 0;
      console.log(
        `early message ${Math.round(early)} ms, late ${Math.round(late)} ms; ` +
          `${rounds().length} rounds processed at mix_1, ${paused} paused`,
      );
      // Without pausing, the late message would wait behind twenty rounds of backlog (9 s).
      assert.ok(late < early + 10 * ROUND_MS, `late ${late} ms, early ${early} ms`);
      assert.ok(late < 12 * SLOW_MS, `late ${late} ms`);
      assert.ok(paused > 10, `only ${paused} rounds paused`);
      // Every round that ran held every client: pausing never shrinks a round.
      for (const r of rounds().slice(1)) {
        assert.equal(r.batch_in, 4, `round ${r.round} held ${r.batch_in} packets`);
      }
      assert.equal(mix1.metrics.counters["rejected.paused"] ?? 0, 0);
    } finally {
      await closeProxied(net, hops);
    }
  });
}

Deno.test("the rounds waiting in the last mix reach the first through the mix between, and pause rounds there", async () => {
  const net = await createTestNetwork({
    clients: 2,
    roundDuration: 0.1,
    roundTimeout: 0.1,
    extra: { max_backlog_rounds: 2, loop_every: 0 },
  });
  const said: number[] = [];
  const hops: ProxiedMix[] = [];
  try {
    // mix_3 answers at once but says three rounds wait in it; mix_2 and mix_1 keep up.
    hops.push(
      await startProxiedMix(net, "mix_3", {
        hook: async (method, request, relay) => {
          const answer = await relay(request);
          return method === "ForwardBatch" ? { ...answer as object, rounds_waiting: 3 } : answer;
        },
      }),
    );
    hops.push(
      await startProxiedMix(net, "mix_2", {
        hook: async (method, request, relay) => {
          const answer = await relay(request);
          if (method === "ForwardBatch") {
            said.push((answer as ForwardBatchResponse).rounds_waiting!);
          }
          return answer;
        },
      }),
    );
    await net.startMix("mix_1");
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const mix1 = net.mixes.get("mix_1")!;
    await waitUntil(
      () => (mix1.metrics.counters["rounds.paused"] ?? 0) >= 5,
      20_000,
      "five rounds paused at mix_1",
    );
    // mix_2 passed on what mix_3 last said (nothing before its first answer) with its own.
    assert.ok(said.filter((n) => n >= 3).length >= 5, JSON.stringify(said));
  } finally {
    await closeProxied(net, hops);
  }
});
