import assert from "node:assert/strict";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { NodeProcess } from "../../tasks/launch/mod.ts";

/** What `to` receives until a later round's marker from `from`, as a sorted list. */
async function receiveExactly(net: TestNetwork, to: string, from: string, expected: string[]) {
  assert.deepEqual((await net.receiveUntilMarker(to, from, 30_000)).sort(), [...expected].sort());
}

Deno.test("SIGKILL of the first mix after it acknowledged packets: a restart delivers each exactly once", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 1, roundTimeout: 0.5 });
  let mix1 = new NodeProcess("mix", "mix_1", net.configPath);
  try {
    await net.startMix("mix_3");
    await net.startMix("mix_2");
    await mix1.ready();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 1000) + 1;
    assert.equal(
      (await net.send("client_1", round, net.onion("client_2", "survives"))).status,
      "ok",
    );
    assert.equal((await net.send("client_2", round, net.onion("client_1", "me too"))).status, "ok");
    // Round `round` is still open (it closes when its send time comes and every client sent,
    // or at its deadline): the packets exist only in mix_1's inbox when it dies.
    assert.notEqual((await mix1.kill("SIGKILL")).code, 0);
    mix1 = new NodeProcess("mix", "mix_1", net.configPath);
    await mix1.ready();
    await receiveExactly(net, "client_2", "client_1", ["survives"]);
    await receiveExactly(net, "client_1", "client_2", ["me too"]);
  } finally {
    await mix1.kill("SIGKILL");
    await net.close();
  }
});

Deno.test("SIGKILL of a middle mix holding an unsent batch: a restart forwards it exactly once", async () => {
  const net = await createTestNetwork({ clients: 2 });
  let mix2 = new NodeProcess("mix", "mix_2", net.configPath);
  try {
    await net.startMix("mix_1");
    await mix2.ready();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000));
    await net.send("client_1", round, net.onion("client_2", "held"));
    await net.send("client_2", round, net.onion("client_1", "held too"));
    // mix_3 is down: once mix_2 processed the round, its batch waits in mix_2's outbox.
    await mix2.waitFor((r) => r.message === "round processed" && r.round === round);
    await mix2.kill("SIGKILL");
    mix2 = new NodeProcess("mix", "mix_2", net.configPath);
    await mix2.ready();
    await net.startMix("mix_3");
    await receiveExactly(net, "client_2", "client_1", ["held"]);
    await receiveExactly(net, "client_1", "client_2", ["held too"]);
  } finally {
    await mix2.kill("SIGKILL");
    await net.close();
  }
});

Deno.test("a mix stops gracefully on SIGTERM and names a taken port clearly", async () => {
  const net = await createTestNetwork({ clients: 2 });
  const mix1 = new NodeProcess("mix", "mix_1", net.configPath);
  try {
    await mix1.ready();
    const twin = new NodeProcess("mix", "mix_1", net.configPath);
    const status = await twin.status;
    assert.equal(status.code, 1);
    assert.ok(
      twin.lines.some((l) => /Cannot listen on 127\.0\.0\.1:\d+: address already in use/.test(l)),
      twin.lines.join("\n"),
    );
    assert.equal((await mix1.kill("SIGTERM")).code, 0);
    assert.ok(mix1.records.some((r) => r.message === "stopped"));
    const unknown = new NodeProcess("mix", "mix_9", net.configPath);
    assert.equal((await unknown.status).code, 1);
    assert.match(unknown.lines.join("\n"), /no mix with id "mix_9" \(known: mix_1, mix_2, mix_3\)/);
  } finally {
    await mix1.kill("SIGKILL");
    await net.close();
  }
});
