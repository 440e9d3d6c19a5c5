/**
 * An active first mix (a proxy in mix_1's place) that answers "ok" to every client but one and
 * drops their packets, the n-1 attack: the real mix_1 tops the batch up with cover, so every hop
 * still carries a full batch, but the dropped clients' loops stop coming back and each of them
 * raises the alarm within 2·loop_every + 1 rounds of the cascade; the spared client does not.
 */
import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import type { ForwardMessageRequest } from "../../src/rpc/mod.ts";

const LOOP_EVERY = 3;
/** Rounds of the cascade (rounds stored at mix_3) from the attack's start to every alarm. */
const BOUND = 2 * LOOP_EVERY + 1;

Deno.test("clients whose packets a first mix drops raise the loop alarm within 2·loop_every + 1 rounds; the spared one does not", async () => {
  const net = await createTestNetwork({
    clients: 4,
    roundDuration: 0.25,
    roundTimeout: 0.15,
    extra: { loop_every: LOOP_EVERY },
  });
  const hops: ProxiedMix[] = [];
  let attackFrom: number | undefined;
  try {
    await net.startMix("mix_3");
    await net.startMix("mix_2");
    hops.push(
      await startProxiedMix(net, "mix_1", {
        hook: (method, request, relay) => {
          const { client_id, round } = request as ForwardMessageRequest;
          const dropped = method === "ForwardMessage" && client_id !== "client_1" &&
            attackFrom !== undefined && round >= attackFrom;
          return dropped ? Promise.resolve({ status: "ok" }) : relay(request);
        },
      }),
    );
    const ids = net.config.clients.map((c) => c.id);
    await Promise.all(ids.map((id) => net.startClient(id)));
    const client = (id: string) => net.clients.get(id)!;
    const stored = () =>
      Math.max(-1, ...net.mixes.get("mix_3")!.metrics.recent.map((r) => r.round));
    // Before the attack every client's loops come back, and nobody is alarmed.
    await waitUntil(
      () => ids.every((id) => (client(id).metrics.counters["loops.returned"] ?? 0) >= 2),
      20_000,
      "two loops back at every client",
    );
    assert.deepEqual(ids.filter((id) => client(id).alarm), []);

    attackFrom = client("client_1").clock.roundAt(Date.now()) + 1;
    const alarmedAt = new Map<string, number>();
    const victims = ids.filter((id) => id !== "client_1");
    await waitUntil(
      () => {
        for (const id of victims) {
          if (client(id).alarm && !alarmedAt.has(id)) alarmedAt.set(id, stored());
        }
        return alarmedAt.size === victims.length;
      },
      30_000,
      "the alarm at every dropped client",
      10,
    );
    const lateness = victims.map((id) => alarmedAt.get(id)! - attackFrom!);
    console.log(
      `attack from round ${attackFrom}: alarms after ${lateness.join("/")} rounds (bound ${BOUND})`,
    );
    for (const [i, id] of victims.entries()) {
      assert.ok(lateness[i] <= BOUND, `${id} raised the alarm ${lateness[i]} rounds in`);
    }
    assert.equal(client("client_1").alarm, false, "the spared client raised the alarm");
    // The attack is invisible in batch sizes: mix_1 filled each round with cover.
    const mix1 = hops[0].node.metrics.recent.filter((r) =>
      r.event === "round" && r.round >= attackFrom! && r.round < attackFrom! + BOUND
    );
    assert.ok(mix1.length > 0);
    for (const r of mix1) assert.deepEqual([r.batch_in, r.batch_out], [1, 4], `round ${r.round}`);

    // The attack ends: loops come back and every alarm is cleared.
    attackFrom = undefined;
    await waitUntil(() => ids.every((id) => !client(id).alarm), 20_000, "the alarms cleared");
  } finally {
    await closeProxied(net, hops);
  }
});
