import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { NodeProcess } from "../../tasks/launch/mod.ts";
import { createLogger } from "../../src/log.ts";

/** How long the next mix stays down. */
const OUTAGE_MS = 10_000;

Deno.test("the next mix down for 10 s under traffic: the first batch after its restart is acknowledged within 2 s, and the retries are logged while it is down", async () => {
  const net = await createTestNetwork({ clients: 3, roundDuration: 0.2, roundTimeout: 0.1 });
  const mix1Lines: Record<string, unknown>[] = [];
  const mix1Logger = createLogger({
    name: "mix_1",
    format: "json",
    write: (line) => mix1Lines.push(JSON.parse(line)),
  });
  const startMix2 = () => new NodeProcess("mix", "mix_2", net.configPath);
  let mix2 = startMix2();
  try {
    await net.startMix("mix_3");
    await mix2.ready();
    const mix1 = await net.startMix("mix_1", { logger: mix1Logger });
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    const forwards = () => mix1.metrics.recent.filter((r) => r.event === "forward");
    await waitUntil(() => forwards().length >= 3, 20_000, "rounds flowing to mix_2");

    await mix2.kill("SIGKILL");
    const down = Date.now();
    // Mail sent while mix_2 is down: acknowledged by mix_1, held in its outbox.
    const texts = ["during the outage 1", "during the outage 2"];
    for (const message of texts) {
      await net.client("client_1").prepareMessage({
        message,
        recipient_pubkey: net.keyFile("client_2"),
        recipient_addr: net.config.clients[1].address,
      });
    }
    await waitUntil(
      () => net.clients.get("client_1")!.queueLength() === 0,
      10_000,
      "mix_1 acknowledged the mail",
    );
    // The outage itself is the fault under test, not a wait for something to happen.
    await new Promise((r) => setTimeout(r, Math.max(0, down + OUTAGE_MS - Date.now())));
    const ackedBefore = forwards().length;
    mix2 = startMix2();
    const restartedMs = Date.parse((await mix2.ready()).time);
    await waitUntil(() => forwards().length > ackedBefore, 30_000, "a batch acknowledged");
    const first = forwards()[ackedBefore];
    const restartToAckMs = first.acked_ms! - restartedMs;
    console.log(
      `mix_2 down ${OUTAGE_MS} ms, restart to first acknowledged batch ${
        Math.round(restartToAckMs)
      } ms (round ${first.round}, attempt ${first.attempts})`,
    );
    assert.ok(first.attempts! > 1, `round ${first.round} was not retried`);
    assert.ok(restartToAckMs < 2000, `restart to first acknowledged batch: ${restartToAckMs} ms`);

    // The operator saw the cascade stuck: the retry was logged again while it lasted, with the
    // round and the attempt.
    const retries = mix1Lines.filter((l) => l.message === "forward failed, retrying");
    assert.ok(retries.length >= 2, JSON.stringify(retries));
    assert.ok(retries.every((l) => Number.isInteger(l.round) && Number.isInteger(l.attempt)));
    assert.ok(Number(retries[retries.length - 1].attempt) > 1, JSON.stringify(retries));

    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat((await net.client("client_2").pollMessages()).messages);
        return got.length >= texts.length;
      },
      20_000,
      "the mail held during the outage",
      100,
    );
    assert.deepEqual(got, texts);
  } finally {
    for (const c of net.config.clients) await net.stopClient(c.id);
    await net.stopMix("mix_1");
    await mix2.kill("SIGKILL");
    await net.close();
  }
});
