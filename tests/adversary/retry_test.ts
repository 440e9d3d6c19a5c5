/**
 * The first mix, or anyone on the path, delays one client's packet past its round or drops the
 * answer to it: the client's next attempt shares no bytes with the first, for a real message and
 * for a dummy alike, so neither the retry nor its bytes tell what the packet carried; and the
 * message still arrives once.
 */
import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import { MixnetError } from "../../src/errors.ts";
import { HopKind, peelLayer } from "../../src/onion/mod.ts";
import type { ForwardMessageRequest } from "../../src/rpc/mod.ts";

/** Whether `a` and `b` have any run of `n` bytes in common. */
function shareBytes(a: Uint8Array, b: Uint8Array, n = 16): boolean {
  const runs = new Set<string>();
  for (let i = 0; i + n <= a.length; i++) runs.add(a.subarray(i, i + n).join());
  for (let i = 0; i + n <= b.length; i++) if (runs.has(b.subarray(i, i + n).join())) return true;
  return false;
}

interface Case {
  /** Hold the packet until its round is closed, or store it and lose the answer. */
  readonly fault: "hold" | "lose";
  /** What the packet carries: a message (to a client) or a dummy (to the sink). */
  readonly kind: "message" | "dummy";
  readonly attempts: { round: number; payload: Uint8Array }[];
}

Deno.test("a packet held past its round or whose answer is lost is sent again as fresh bytes, message or dummy alike, and a message arrives once", async () => {
  const net = await createTestNetwork({
    clients: 3,
    roundDuration: 0.3,
    roundTimeout: 0.15,
    extra: { loop_every: 0 },
  });
  const hops: ProxiedMix[] = [];
  let current: Case | undefined;
  const kindOf = (payload: Uint8Array): Case["kind"] => {
    let packet = payload;
    for (const [i, mix] of ["mix_1", "mix_2", "mix_3"].entries()) {
      const layer = peelLayer(net.box, packet, net.keys.get(mix)!, {
        payloadSize: net.config.payloadSize,
        layers: 3 - i,
      });
      if (i === 2) return layer.next.kind === HopKind.client ? "message" : "dummy";
      packet = layer.inner;
    }
    throw new Error("unreachable");
  };
  try {
    await net.startMix("mix_3");
    await net.startMix("mix_2");
    hops.push(
      await startProxiedMix(net, "mix_1", {
        hook: async (method, request, relay) => {
          const { client_id, round, payload } = request as ForwardMessageRequest;
          const c = current;
          if (method !== "ForwardMessage" || client_id !== "client_1" || !c) return relay(request);
          if (c.attempts.length === 0) {
            if (kindOf(payload) !== c.kind) return relay(request);
            c.attempts.push({ round, payload: payload.slice() });
            if (c.fault === "lose") {
              await relay(request);
              throw new MixnetError("Connection reset by peer", { status: "unavailable" });
            }
            await waitUntil(
              () =>
                hops[0].node.metrics.recent.some((r) => r.event === "round" && r.round === round),
              10_000,
              `mix_1 done with round ${round}`,
            );
            return relay(request);
          }
          if (c.attempts.length === 1) c.attempts.push({ round, payload: payload.slice() });
          return relay(request);
        },
      }),
    );
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const to = net.config.clients[1];
    const texts: string[] = [];
    const cases: Case[] = [];
    for (const fault of ["hold", "lose"] as const) {
      for (const kind of ["message", "dummy"] as const) {
        const c: Case = { fault, kind, attempts: [] };
        cases.push(c);
        if (kind === "message") {
          texts.push(`${fault} me`);
          await net.client("client_1").prepareMessage({
            message: `${fault} me`,
            recipient_pubkey: net.keyFile(to.id),
            recipient_addr: to.address,
          });
        }
        current = c;
        await waitUntil(() => c.attempts.length === 2, 15_000, `two attempts (${fault}, ${kind})`);
        current = undefined;
        const [first, next] = c.attempts;
        assert.equal(kindOf(next.payload), kind, `${fault} ${kind}: the next attempt's kind`);
        assert.equal(
          next.round,
          fault === "hold" ? first.round + 1 : first.round,
          `${fault} ${kind}: the round of the next attempt`,
        );
        assert.equal(first.payload.length, next.payload.length);
        assert.ok(
          !shareBytes(first.payload, next.payload),
          `${fault} ${kind}: the next attempt shares bytes with the first`,
        );
      }
    }
    assert.deepEqual((await net.messagesOf("client_2", texts.length)).sort(), texts.sort());
    const mix1 = hops[0].node.metrics.counters;
    assert.ok(mix1["rejected.closed-round"] >= 2, JSON.stringify(mix1));
    assert.ok(mix1["rejected.duplicate"] >= 2, JSON.stringify(mix1));
    assert.equal(mix1["dropped.replayed"], undefined, "a retry was recognised as a replay");
  } finally {
    await closeProxied(net, hops);
  }
});
