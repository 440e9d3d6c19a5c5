import assert from "node:assert/strict";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import {
  batchProof,
  generateTlsIdentity,
  PeerMac,
  readCertificate,
  readTlsIdentity,
  type TlsIdentity,
} from "../../src/crypto/mod.ts";
import {
  type ForwardBatchRequest,
  grpc,
  maxMessageBytes,
  MixServerStub,
  pinnedChannel,
  RpcError,
} from "../../src/rpc/mod.ts";

/**
 * A network on loopback with TLS on every link, as `tls: always` asks, and no wire ports: every
 * call goes over gRPC (tests/wire/tls_test.ts runs the same over the wire protocol).
 */
function tlsNetwork(): Promise<TestNetwork> {
  return createTestNetwork({ clients: 2, wire: false, extra: { tls: "always" } });
}

/** A stub to mix `id` pinned to `pinned` (its certificate unless given), showing `identity`. */
async function stubTo(
  net: TestNetwork,
  id: string,
  options: { identity?: TlsIdentity; pinned?: TlsIdentity } = {},
): Promise<MixServerStub> {
  const node = net.config.mixServers.find((m) => m.id === id)!;
  const certificate = options.pinned?.certificate ?? await readCertificate(net.dir, id);
  return new MixServerStub(node.address, {
    maxMessageBytes: maxMessageBytes(net.config),
    name: id,
    credentials: pinnedChannel({ id, address: node.address, certificate }, options.identity),
    timeoutMs: 5000,
  });
}

/** A batch for mix_2 signed with mix_1's real X25519 key: only TLS can tell who sent it. */
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

Deno.test("with TLS on every gRPC link, a message crosses the three mixes and reaches its mailbox", async () => {
  const net = await tlsNetwork();
  try {
    assert.ok([...net.config.mixServers, ...net.config.clients].every((n) => n.tls));
    await net.startAllMixes();
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / (start.round_duration_s * 1000)) + 1;
    assert.equal(
      (await net.send("client_1", round, net.onion("client_2", "over TLS"))).status,
      "ok",
    );
    await net.send("client_2", round, net.onion("client_1", "and back"));
    await waitUntil(
      async () => net.open("client_2", await net.poll("client_2")).includes("over TLS"),
      10_000,
      "delivery to client_2",
    );
  } finally {
    await net.close();
  }
});

Deno.test("a ForwardBatch from a caller without the previous mix's certificate is refused, naming what it showed", async () => {
  const net = await tlsNetwork();
  const stubs: MixServerStub[] = [];
  const stub = async (options: { identity?: TlsIdentity } = {}) => {
    const s = await stubTo(net, "mix_2", options);
    stubs.push(s);
    return s;
  };
  try {
    await net.startMix("mix_3");
    await net.startMix("mix_2");
    const request = batchFromMix1(net);

    const anonymous = await refusal((await stub()).forwardBatch(request));
    assert.equal(anonymous.code, grpc.status.UNAUTHENTICATED, anonymous.message);
    assert.match(
      anonymous.details,
      /^MixServer\.ForwardBatch needs the certificate of mix_1 \(([0-9A-F]{2}:){31}[0-9A-F]{2}\): the caller at 127\.0\.0\.1:\d+ presented no certificate$/,
    );

    const impostor = await generateTlsIdentity("mix_1");
    const forged = await refusal((await stub({ identity: impostor })).forwardBatch(request));
    assert.equal(forged.code, grpc.status.UNAUTHENTICATED, forged.message);
    assert.ok(
      forged.details.endsWith(`presented certificate ${impostor.certificate.fingerprint}`),
      forged.details,
    );

    // Another node's real certificate is no better: client_1's is not mix_1's.
    const client = await readTlsIdentity(net.config.keysDir, "client_1");
    const other = await refusal((await stub({ identity: client })).forwardBatch(request));
    assert.ok(other.details.includes(client.certificate.fingerprint), other.details);
    assert.equal(net.mixes.get("mix_2")!.metrics.counters["tls.refused"], 3);

    // With mix_1's certificate the call gets through TLS, and the batch MAC is still checked.
    const mix1 = await readTlsIdentity(net.config.keysDir, "mix_1");
    const real = await stub({ identity: mix1 });
    assert.equal((await real.forwardBatch(request)).status, "stored");
    const tampered = await refusal(real.forwardBatch({ ...request, round: 1_001 }));
    assert.equal(tampered.code, grpc.status.PERMISSION_DENIED, tampered.message);
    assert.match(tampered.details, /its MAC does not verify/);
  } finally {
    for (const s of stubs) s.close();
    await net.close();
  }
});

Deno.test("a mix that presents another certificate than its pinned one is refused by name and fingerprint", async () => {
  const net = await tlsNetwork();
  const stubs: MixServerStub[] = [];
  try {
    await net.startAllMixes();
    const expected = await readCertificate(net.dir, "mix_1");
    const actual = (await readTlsIdentity(net.config.keysDir, "mix_1")).certificate;
    assert.equal(actual.fingerprint, expected.fingerprint);
    // The caller pins a certificate that mix_1 does not have.
    const wrongPin = await generateTlsIdentity("mix_1");
    const stub = await stubTo(net, "mix_1", { pinned: wrongPin });
    stubs.push(stub);
    const error = await refusal(
      net.register("client_1").then(() => stub.waitForStart({ client_id: "client_1" })),
    );
    assert.equal(error.code, grpc.status.UNAVAILABLE, error.message);
    assert.ok(
      error.details.includes(
        `mix_1 at ${net.config.mixServers[0].address} presented certificate ` +
          `${actual.fingerprint}, not the one pinned for it (${wrongPin.certificate.fingerprint})`,
      ),
      error.details,
    );

    // A plain-text caller gets no answer from a TLS mix.
    const plain = new MixServerStub(net.config.mixServers[0].address, {
      maxMessageBytes: maxMessageBytes(net.config),
      name: "mix_1",
      timeoutMs: 3000,
    });
    stubs.push(plain);
    const cleartext = await refusal(plain.waitForStart({ client_id: "client_1" }));
    assert.ok(cleartext.transient, cleartext.message);
  } finally {
    for (const s of stubs) s.close();
    await net.close();
  }
});
