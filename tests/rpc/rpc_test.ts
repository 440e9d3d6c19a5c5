import assert from "node:assert/strict";
import http2 from "node:http2";
import {
  type CallInfo,
  ClientStub,
  grpc,
  MixServerStub,
  RECEIVE_WINDOW_BYTES,
  RpcError,
  startServer,
} from "../../src/rpc/mod.ts";
import { MixnetError } from "../../src/errors.ts";

const LIMIT = 1024 * 1024;

// The MixServer calls, over gRPC and over the wire protocol alike: mix_server_calls_test.ts.

Deno.test("one server serves both services: the Client methods answer beside MixServer's", async () => {
  const seen: string[] = [];
  const server = await startServer("127.0.0.1:0", {
    maxMessageBytes: LIMIT,
    mix: {
      Register(r: { client_id: string }) {
        seen.push(`register ${r.client_id}`);
        return Promise.resolve({ status: true, reason: "" });
      },
    } as never,
    client: {
      PrepareMessage(r) {
        seen.push(`prepare ${r.message} ${r.recipient_addr} ${r.recipient_pubkey.length}`);
        return Promise.resolve({ status: true, round: 4, reason: "", prepare_ms: 0.5 });
      },
      PollMessages() {
        return Promise.resolve({ messages: ["héllo"] });
      },
    },
  });
  const mix = new MixServerStub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT });
  const client = new ClientStub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT });
  try {
    const prepared = await client.prepareMessage({
      message: "hi",
      recipient_pubkey: new Uint8Array(32),
      recipient_addr: "a:1",
    });
    assert.deepEqual(prepared, { status: true, round: 4, reason: "", prepare_ms: 0.5 });
    assert.deepEqual((await client.pollMessages()).messages, ["héllo"]);
    assert.equal(
      (await mix.register({ client_id: "c", timestamp_ms: 1, mac: new Uint8Array() })).status,
      true,
    );
    assert.deepEqual(seen, ["prepare hi a:1 32", "register c"]);
  } finally {
    mix.close();
    client.close();
    await server.close();
  }
});

Deno.test("domain errors reach the caller as gRPC statuses with their reason", async () => {
  const unexpected: unknown[] = [];
  const server = await startServer("127.0.0.1:0", {
    maxMessageBytes: LIMIT,
    onInternalError: (_method, error) => unexpected.push(error),
    client: {
      PrepareMessage() {
        throw new MixnetError("Unknown recipient x:1: not in the config", {
          status: "invalid-argument",
        });
      },
      PollMessages() {
        return Promise.reject(new TypeError("boom"));
      },
    },
  });
  const client = new ClientStub(`127.0.0.1:${server.port}`, {
    maxMessageBytes: LIMIT,
    name: "client_1",
  });
  try {
    const refused = await client.prepareMessage({
      message: "",
      recipient_pubkey: new Uint8Array(),
      recipient_addr: "x:1",
    }).catch((e) => e);
    assert.ok(refused instanceof RpcError);
    assert.equal(refused.code, grpc.status.INVALID_ARGUMENT);
    assert.match(refused.message, /PrepareMessage on client_1 failed: INVALID_ARGUMENT: Unknown/);
    const crashed = await client.pollMessages().catch((e) => e);
    assert.equal(crashed.code, grpc.status.INTERNAL);
    assert.equal(unexpected.length, 1);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("binding a port in use fails with a clear message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    await assert.rejects(
      startServer(`127.0.0.1:${port}`, { maxMessageBytes: LIMIT }),
      /Cannot listen on 127\.0\.0\.1:\d+: address already in use/,
    );
  } finally {
    listener.close();
  }
});

Deno.test("binding an address this process may not use names that cause, not a port in use", async () => {
  // The tests hold --allow-net=127.0.0.1, as every node does. grpc-js said "Name resolution
  // failed" for localhost, and crashed the process on Deno's permission error for 10.1.2.3.
  for (const host of ["localhost", "10.1.2.3"]) {
    await assert.rejects(
      startServer(`${host}:50999`, { maxMessageBytes: LIMIT }),
      new RegExp(
        `Cannot listen on ${host}:50999: this process may not listen on ${host}: its --allow-net does not grant it`,
      ),
    );
  }
});

Deno.test("a service's check refuses calls before their handler and leaves the other service open", async () => {
  const handled: string[] = [];
  const checked: string[] = [];
  const refuseWithout = (value: string) => (call: CallInfo) => {
    checked.push(`${call.method} ${call.header("x-pass") ?? "-"} ${call.peer}`);
    if (call.header("x-pass") !== value) {
      throw new MixnetError(`${call.method}: no pass`, { status: "unauthenticated" });
    }
  };
  const server = await startServer("127.0.0.1:0", {
    maxMessageBytes: LIMIT,
    auth: { client: refuseWithout("open sesame") },
    mix: {
      Register(r: { client_id: string }) {
        handled.push(`register ${r.client_id}`);
        return Promise.resolve({ status: true, reason: "" });
      },
    } as never,
    client: {
      PrepareMessage() {
        handled.push("prepare");
        return Promise.resolve({ status: true, round: 1, reason: "", prepare_ms: 0 });
      },
      PollMessages() {
        handled.push("poll");
        return Promise.resolve({ messages: ["secret"] });
      },
    },
  });
  const address = `127.0.0.1:${server.port}`;
  const outsider = new ClientStub(address, { maxMessageBytes: LIMIT, name: "client_1" });
  const guesser = new ClientStub(address, {
    maxMessageBytes: LIMIT,
    headers: { "x-pass": "open sesame?" },
  });
  const owner = new ClientStub(address, {
    maxMessageBytes: LIMIT,
    headers: { "x-pass": "open sesame" },
  });
  const mix = new MixServerStub(address, { maxMessageBytes: LIMIT });
  try {
    const refused = await outsider.pollMessages().catch((e) => e);
    assert.ok(refused instanceof RpcError);
    assert.equal(refused.code, grpc.status.UNAUTHENTICATED);
    assert.equal(refused.status, "unauthenticated");
    assert.match(refused.message, /PollMessages on client_1 failed: UNAUTHENTICATED: .*no pass/);
    const guessed = await guesser.prepareMessage({
      message: "forged",
      recipient_pubkey: new Uint8Array(32),
      recipient_addr: "a:1",
    }).catch((e) => e);
    assert.equal(guessed.code, grpc.status.UNAUTHENTICATED);
    assert.deepEqual(handled, []);
    assert.deepEqual((await owner.pollMessages()).messages, ["secret"]);
    assert.equal(
      (await mix.register({ client_id: "c", timestamp_ms: 1, mac: new Uint8Array() }))
        .status,
      true,
    );
    assert.deepEqual(handled, ["poll", "register c"]);
    assert.equal(checked.length, 3);
    assert.match(checked[0], /^Client\.PollMessages - 127\.0\.0\.1:\d+$/);
    assert.match(checked[1], /^Client\.PrepareMessage open sesame\? 127\.0\.0\.1:\d+$/);
    assert.match(checked[2], /^Client\.PollMessages open sesame 127\.0\.0\.1:\d+$/);
  } finally {
    for (const stub of [outsider, guesser, owner, mix]) stub.close();
    await server.close();
  }
});

Deno.test("a check on a client-streaming method refuses the stream before its handler reads it", async () => {
  let reached = false;
  const server = await startServer("127.0.0.1:0", {
    maxMessageBytes: LIMIT,
    auth: {
      mix: (call) => {
        throw new MixnetError(`${call.method} refused`, { status: "unauthenticated" });
      },
    },
    mix: {
      ForwardBatch() {
        reached = true;
        return Promise.resolve({ status: "stored" });
      },
    } as never,
  });
  const mix = new MixServerStub(`127.0.0.1:${server.port}`, { maxMessageBytes: LIMIT });
  try {
    const error = await mix.forwardBatch({
      round: 0,
      packets: [new Uint8Array(8)],
      mix_id: "m",
      mac: new Uint8Array(),
    }).catch((e) => e);
    assert.equal(error.code, grpc.status.UNAUTHENTICATED);
    assert.match(error.details, /MixServer\.ForwardBatch refused/);
    assert.equal(reached, false);
  } finally {
    mix.close();
    await server.close();
  }
});

Deno.test("a server advertises its large receive window for each stream and the connection", async () => {
  const server = await startServer("127.0.0.1:0", { maxMessageBytes: LIMIT });
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  try {
    const settings = await new Promise<http2.Settings>((resolve) =>
      session.once("remoteSettings", resolve)
    );
    assert.equal(settings.initialWindowSize, RECEIVE_WINDOW_BYTES);
    // The connection's WINDOW_UPDATE goes out before the answer to a later PING.
    await new Promise<void>((resolve, reject) =>
      session.ping((error) => error ? reject(error) : resolve())
    );
    assert.equal(session.state.remoteWindowSize, RECEIVE_WINDOW_BYTES);
  } finally {
    session.close();
    await server.close();
  }
});
