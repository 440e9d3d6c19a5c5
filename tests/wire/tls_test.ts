/**
 * The wire protocol over TLS, as an adversary meets it: a network with `tls: always` whose mixes
 * have wire ports. The caller pins the mix's certificate through TLS; the mix learns which
 * certificate its caller holds from the proof in the wire handshake (Deno's TLS server asks for
 * no client certificate), and lets `ForwardBatch` through only from the previous mix's.
 * tests/rpc/tls_test.ts runs the same over gRPC.
 */
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { freePorts, waitUntil } from "../_testkit/ports.ts";
import { loadConfig } from "../../src/config/mod.ts";
import {
  batchProof,
  generateTlsIdentity,
  PeerMac,
  readCertificate,
  readTlsIdentity,
  type TlsIdentity,
} from "../../src/crypto/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { type MixNode, startMix } from "../../src/mix/mod.ts";
import {
  type ForwardBatchRequest,
  grpc,
  maxMessageBytes,
  NodeTransport,
  pinnedWireDialer,
  RpcError,
} from "../../src/rpc/mod.ts";
import { WireStub } from "../../src/wire/mod.ts";

/** A network on loopback with TLS on every link and a wire port on every mix. */
function tlsNetwork(): Promise<TestNetwork> {
  return createTestNetwork({ clients: 2, wire: true, extra: { tls: "always" } });
}

/** A wire stub to mix `id` over TLS pinned to `pinned` (its certificate unless given), proving `identity`. */
async function wireStubTo(
  net: TestNetwork,
  id: string,
  options: { identity?: TlsIdentity; pinned?: TlsIdentity } = {},
): Promise<WireStub> {
  const node = net.config.mixServers.find((m) => m.id === id)!;
  const certificate = options.pinned?.certificate ?? await readCertificate(net.dir, id);
  return new WireStub(node.wire!.address, {
    maxMessageBytes: maxMessageBytes(net.config),
    name: id,
    dial: pinnedWireDialer({ id, address: node.address, certificate }),
    identity: options.identity,
    timeoutMs: 5000,
  });
}

/** A batch for mix_2 signed with mix_1's real X25519 key: only the transport can tell who sent it. */
function batchFromMix1(net: TestNetwork): ForwardBatchRequest {
  const request = { round: 1_000, packets: [], mix_id: "mix_1", mac: new Uint8Array() };
  request.mac = new PeerMac(net.box, net.keys.get("mix_1")!).sign(
    net.keys.get("mix_2")!.publicKey,
    ...batchProof(request),
  );
  return request;
}

async function refusal(call: Promise<unknown>): Promise<RpcError> {
  const error = await call.then(() => undefined, (e) => e);
  assert.ok(error instanceof RpcError, `the call was not refused: ${String(error)}`);
  return error;
}

Deno.test("with TLS on every link and the mixes' gRPC ports where nobody dials them, a message crosses the three mixes over their wire ports", async () => {
  const net = await tlsNetwork();
  const mixes: MixNode[] = [];
  try {
    // Each mix binds gRPC on a port of its own (`listen`) while its peers dial `address`,
    // where nothing listens: a call reaches a mix only through its wire port.
    const document = parse(await Deno.readTextFile(net.configPath));
    const taken = [...net.config.mixServers, ...net.config.clients].flatMap((n) =>
      [n.address, ...(n.wire ? [n.wire.address] : [])].map((a) => Number(a.split(":").pop()))
    );
    const elsewhere = freePorts(document.mix_servers.length, taken);
    document.mix_servers.forEach((m: Record<string, unknown>, i: number) => {
      m.listen = `127.0.0.1:${elsewhere[i]}`;
    });
    const path = `${net.dir}/config-grpc-elsewhere.yaml`;
    await Deno.writeTextFile(path, stringify(document));
    const config = await loadConfig(path);
    assert.ok(config.mixServers.every((m) => m.tls && m.wire && m.listen !== m.address));

    // What a mix and a client dial a mix with.
    const transports = await Promise.all(
      ["mix_1", "client_1"].map((id) => NodeTransport.load(config, id, { logger: silentLogger })),
    );
    for (const transport of transports) {
      const stub = transport.mixStub(config.mixServers[1], { maxMessageBytes: 1024 });
      assert.ok(stub instanceof WireStub);
      stub.close();
    }

    for (const { id } of [...config.mixServers].reverse()) {
      mixes.push(
        await startMix({
          config,
          id,
          box: net.box,
          keyPair: net.keys.get(id)!,
          logger: silentLogger,
          workers: 1,
        }),
      );
    }
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000)) + 1;
    assert.equal(
      (await net.send("client_1", round, net.onion("client_2", "over the wire"))).status,
      "ok",
    );
    await net.send("client_2", round, net.onion("client_1", "and back"));
    await waitUntil(
      async () => net.open("client_2", await net.poll("client_2")).includes("over the wire"),
      10_000,
      "delivery to client_2",
    );
    // mix_2 took the batch from mix_1's proven certificate, and refused nobody.
    assert.equal(mixes[1].metrics.counters["tls.refused"] ?? 0, 0);
  } finally {
    // In cascade order: mix_1's forwarder stops before mix_2 does.
    for (const mix of mixes.reverse()) await mix.stop();
    await net.close();
  }
});

Deno.test("a ForwardBatch over the wire without the previous mix's certificate is refused with UNAUTHENTICATED, naming the pinned fingerprint and what the caller proved", async () => {
  const net = await tlsNetwork();
  const stubs: WireStub[] = [];
  const stub = async (identity?: TlsIdentity) => {
    const s = await wireStubTo(net, "mix_2", { identity });
    stubs.push(s);
    return s;
  };
  try {
    await net.startMix("mix_3");
    await net.startMix("mix_2");
    const request = batchFromMix1(net);
    const mix1 = await readTlsIdentity(net.config.keysDir, "mix_1");
    const pinned = mix1.certificate.fingerprint;
    const refusedFor = (proved: string) =>
      new RegExp(
        `^ForwardBatch needs the certificate of mix_1 \\(${pinned}\\): the caller at ` +
          `127\\.0\\.0\\.1:\\d+ proved ${proved.replace(/[()]/g, "\\$&")}$`,
      );

    const anonymous = await refusal((await stub()).forwardBatch(request));
    assert.equal(anonymous.code, grpc.status.UNAUTHENTICATED, anonymous.message);
    assert.match(anonymous.details, refusedFor("no certificate"));

    // mix_1's own certificate (it is public) with a signature by a key that is not its own.
    const thief = await generateTlsIdentity("mix_1");
    const forged = await refusal(
      (await stub({ certificate: mix1.certificate, keyPem: thief.keyPem })).forwardBatch(request),
    );
    assert.equal(forged.code, grpc.status.UNAUTHENTICATED, forged.message);
    assert.match(
      forged.details,
      refusedFor(`no certificate (it showed certificate ${pinned} without proof of its key)`),
    );

    // A certificate of its own making, named mix_1, proved with its own key.
    const impostor = await refusal((await stub(thief)).forwardBatch(request));
    assert.equal(impostor.code, grpc.status.UNAUTHENTICATED, impostor.message);
    assert.match(impostor.details, refusedFor(`certificate ${thief.certificate.fingerprint}`));

    // Another node's real certificate is no better: client_1's is not mix_1's.
    const client = await readTlsIdentity(net.config.keysDir, "client_1");
    const other = await refusal((await stub(client)).forwardBatch(request));
    assert.equal(other.code, grpc.status.UNAUTHENTICATED, other.message);
    assert.match(other.details, refusedFor(`certificate ${client.certificate.fingerprint}`));
    assert.equal(net.mixes.get("mix_2")!.metrics.counters["tls.refused"], 4);
    // Refusals are permanent failures: a forwarder retries them slowly, not at once.
    assert.ok([anonymous, forged, impostor, other].every((e) => !e.transient));

    // With mix_1's certificate the call gets through, and the batch MAC is still checked.
    const real = await stub(mix1);
    assert.equal((await real.forwardBatch(request)).status, "stored");
    const tampered = await refusal(real.forwardBatch({ ...request, round: 1_001 }));
    assert.equal(tampered.code, grpc.status.PERMISSION_DENIED, tampered.message);
    assert.match(tampered.details, /its MAC does not verify/);
  } finally {
    for (const s of stubs) s.close();
    await net.close();
  }
});

Deno.test("a wire stub pinning another certificate refuses the mix, naming the fingerprint it presented; a plain-text caller gets no answer; the mix goes on serving", async () => {
  const net = await tlsNetwork();
  const stubs: WireStub[] = [];
  try {
    await net.startAllMixes();
    const mix1 = net.config.mixServers[0];
    const actual = (await readTlsIdentity(net.config.keysDir, "mix_1")).certificate;
    assert.equal((await readCertificate(net.dir, "mix_1")).fingerprint, actual.fingerprint);
    const wrongPin = await generateTlsIdentity("mix_1");
    const misled = await wireStubTo(net, "mix_1", { pinned: wrongPin });
    stubs.push(misled);
    const error = await refusal(
      misled.register({ client_id: "c", timestamp_ms: 1, mac: new Uint8Array() }),
    );
    assert.equal(error.code, grpc.status.UNAVAILABLE, error.message);
    assert.ok(
      error.details.includes(
        `TLS to mix_1 at ${mix1.wire!.address} refused: it presented certificate ` +
          `${actual.fingerprint}, not the one pinned for it (${wrongPin.certificate.fingerprint})`,
      ),
      error.details,
    );

    // In the clear, the handshake never completes: the caller hears nothing it could trust.
    const plain = new WireStub(mix1.wire!.address, {
      maxMessageBytes: maxMessageBytes(net.config),
      name: "mix_1",
      timeoutMs: 3000,
    });
    stubs.push(plain);
    const cleartext = await refusal(plain.waitForStart({ client_id: "client_1" }));
    assert.ok(cleartext.transient, cleartext.message);

    // The mix still accepts a caller that pins it rightly, on a connection of its own.
    assert.deepEqual(await net.register("client_1"), { status: true, reason: "" });
  } finally {
    for (const s of stubs) s.close();
    await net.close();
  }
});
