import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { NodeProcess } from "../_testkit/process.ts";

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
    client3 = new NodeProcess("client.ts", "client_3", net.configPath);
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

    client3 = new NodeProcess("client.ts", "client_3", net.configPath);
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
    await new Promise((r) => setTimeout(r, 1000));
    mail = mail.concat((await net.client("client_3").pollMessages()).messages);
    received = received.concat((await net.client("client_1").pollMessages()).messages);
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
  const client = new NodeProcess("client.ts", "client_1", net.configPath);
  try {
    await client.waitForLine(/first mix not reachable yet, retrying|Public key|ready/, 20_000);
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
    await client.waitForLine(/message delivered latency_ms=\d/);
    net.dropClientStub("client_1");
    assert.equal((await client.kill("SIGTERM")).code, 0);
  } finally {
    await client.kill("SIGKILL");
    await net.close();
  }
});

Deno.test("a mailbox larger than one poll response is drained in pages by one user poll", async () => {
  // 2 clients: a response carries about two packets, and 30 rounds of dummies pile up first.
  const net = await createTestNetwork({
    clients: 2,
    roundDuration: 0.05,
    roundTimeout: 0.05,
    payloadSize: 4096,
  });
  try {
    await net.startAllMixes();
    await Promise.all([net.startClient("client_1"), net.startClient("client_2")]);
    await waitUntil(
      () => (net.clients.get("client_2")!.metrics.counters["sent.dummy"] ?? 0) >= 30,
      20_000,
      "30 rounds",
    );
    const c2 = net.config.clients[1];
    await net.client("client_1").prepareMessage({
      message: "under the dummies",
      recipient_pubkey: net.keyFile("client_2"),
      recipient_addr: c2.address,
    });
    await waitUntil(
      () => (net.clients.get("client_1")!.metrics.counters["sent.message"] ?? 0) === 1,
      5000,
      "the send",
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await net.client("client_2").pollMessages()).messages, ["under the dummies"]);
    assert.ok((net.clients.get("client_2")!.metrics.counters["received.dummy"] ?? 0) >= 30);
  } finally {
    await net.close();
  }
});
