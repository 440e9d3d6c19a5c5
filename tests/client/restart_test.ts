import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { NodeProcess } from "../../tasks/launch/mod.ts";

Deno.test("a client killed with messages queued and mail waiting loses nothing after a restart", async () => {
  const net = await createTestNetwork({
    clients: 3,
    roundDuration: 0.25,
    roundTimeout: 0.1,
    payloadSize: 128,
  });
  let client3: NodeProcess | undefined;
  try {
    await net.startAllMixes();
    client3 = new NodeProcess("client", "client_3", net.configPath);
    await Promise.all([net.startClient("client_1"), net.startClient("client_2"), client3.ready()]);
    const [, , c3] = net.config.clients;
    const c1 = net.config.clients[0];
    // Mail for client_3 that nobody polls yet.
    for (const text of ["waiting 1", "waiting 2"]) {
      await net.client("client_1").prepareMessage({
        message: text,
        recipient_pubkey: net.keyFile("client_3"),
        recipient_addr: c3.address,
      });
    }
    // Four messages queued at client_3, then it dies at once.
    for (let i = 0; i < 4; i++) {
      await net.client("client_3").prepareMessage({
        message: `queued ${i}`,
        recipient_pubkey: net.keyFile("client_1"),
        recipient_addr: c1.address,
      });
    }
    net.dropClientStub("client_3");
    await client3.kill("SIGKILL");
    await waitUntil(
      () => (net.mixes.get("mix_3")!.metrics.counters["packets.out"] ?? 0) >= 6,
      10_000,
      "mail stored for client_3",
    );

    client3 = new NodeProcess("client", "client_3", net.configPath);
    await client3.ready();
    let mail: string[] = [];
    await waitUntil(
      async () => {
        mail = mail.concat((await net.client("client_3").pollMessages()).messages);
        return mail.length >= 2;
      },
      10_000,
      "client_3's mail",
      100,
    );
    let received: string[] = [];
    await waitUntil(
      async () => {
        received = received.concat((await net.client("client_1").pollMessages()).messages);
        return received.length >= 4;
      },
      15_000,
      "client_3's queue",
      100,
    );
    // Nothing more: a marker queued after them arrives next.
    mail = mail.concat(await net.messagesUntilMarker("client_3", "client_1"));
    received = received.concat(await net.messagesUntilMarker("client_1", "client_3"));
    assert.deepEqual(mail, ["waiting 1", "waiting 2"]);
    assert.deepEqual(received, ["queued 0", "queued 1", "queued 2", "queued 3"]);
  } finally {
    net.dropClientStub("client_3");
    await client3?.kill("SIGKILL");
    await net.close();
  }
});

Deno.test("a client started before the first mix registers once it is up", async () => {
  const net = await createTestNetwork({ clients: 1, roundDuration: 0.2, roundTimeout: 0.1 });
  const client = new NodeProcess("client", "client_1", net.configPath);
  try {
    await client.waitFor("registering", 20_000);
    await net.startAllMixes();
    await client.ready();
    const c1 = net.config.clients[0];
    await net.client("client_1").prepareMessage({
      message: "to myself",
      recipient_pubkey: net.keyFile("client_1"),
      recipient_addr: c1.address,
    });
    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat((await net.client("client_1").pollMessages()).messages);
        return got.length > 0;
      },
      10_000,
      "self delivery",
      100,
    );
    assert.deepEqual(got, ["to myself"]);
    net.dropClientStub("client_1");
    assert.equal((await client.kill("SIGTERM")).code, 0);
  } finally {
    await client.kill("SIGKILL");
    await net.close();
  }
});

Deno.test("a client that was away catches up: its mailbox is drained fetch by fetch, every message once and in order", async () => {
  // client_3 is not running while five messages reach its mailbox; each fetch carries two.
  const net = await createTestNetwork({
    clients: 3,
    messagesPerRound: 2,
    roundDuration: 0.1,
    roundTimeout: 0.1,
    extra: { fetch_size: 2 },
  });
  try {
    await net.startAllMixes();
    await Promise.all([net.startClient("client_1"), net.startClient("client_2")]);
    const texts = ["away 0", "away 1", "away 2", "away 3", "away 4"];
    for (const message of texts) {
      await net.client("client_1").prepareMessage({
        message,
        recipient_pubkey: net.keyFile("client_3"),
        recipient_addr: net.config.clients[2].address,
      });
    }
    const mix3 = () => net.mixes.get("mix_3")!.metrics.counters;
    await waitUntil(() => (mix3()["packets.out"] ?? 0) >= texts.length, 20_000, "5 deliveries");
    const client3 = await net.startClient("client_3");
    assert.deepEqual(await net.messagesOf("client_3", texts.length, 20_000), texts);
    assert.ok(client3.metrics.counters["fetched"] >= 3);
  } finally {
    await net.close();
  }
});
