import assert from "node:assert/strict";
import { createSealedBox, type KeyPair } from "../../src/crypto/mod.ts";
import { PacketError } from "../../src/errors.ts";
import {
  buildOnion,
  HopKind,
  innermostSize,
  openPayload,
  packetSize,
  PayloadKind,
  peelLayer,
  replayTag,
  type RouteNode,
} from "../../src/onion/mod.ts";

const box = await createSealedBox();
const encoder = new TextEncoder();
const PAYLOAD = 256;

function cascade(n: number): { keys: KeyPair[]; route: RouteNode[] } {
  const keys = Array.from({ length: n }, () => box.generateKeyPair());
  const route = keys.map((k, i) => ({ address: `127.0.0.1:${5000 + i}`, publicKey: k.publicKey }));
  return { keys, route };
}

function peelAll(packet: Uint8Array, keys: KeyPair[]) {
  const hops = [];
  for (let i = 0; i < keys.length; i++) {
    const peeled = peelLayer(box, packet, keys[i], {
      payloadSize: PAYLOAD,
      layers: keys.length - i,
    });
    hops.push(peeled.next);
    packet = peeled.inner;
  }
  return { hops, innermost: packet };
}

for (const n of [1, 3, 5]) {
  Deno.test(`an onion through ${n} mixes reaches its recipient with every hop named`, () => {
    const { keys, route } = cascade(n);
    const recipient = box.generateKeyPair();
    const message = encoder.encode(`hello through ${n}`);
    const packet = buildOnion(box, {
      message,
      kind: PayloadKind.message,
      recipient: { address: "127.0.0.1:6001", publicKey: recipient.publicKey },
      route,
      payloadSize: PAYLOAD,
    });
    assert.equal(packet.length, packetSize(PAYLOAD, n));
    const { hops, innermost } = peelAll(packet, keys);
    assert.deepEqual(hops, [
      ...route.slice(1).map((r) => ({ kind: HopKind.mix, address: r.address })),
      { kind: HopKind.client, address: "127.0.0.1:6001" },
    ]);
    assert.equal(innermost.length, innermostSize(PAYLOAD));
    const payload = openPayload(box, innermost, recipient, PAYLOAD);
    assert.equal(payload.kind, PayloadKind.message);
    assert.deepEqual(payload.message, message);
  });
}

Deno.test("every packet at a hop has the same length, whatever its message, kind or recipient", () => {
  const { keys, route } = cascade(3);
  const sizes = new Set<string>();
  for (const length of [0, 1, 100, PAYLOAD]) {
    for (const kind of [PayloadKind.message, PayloadKind.dummy]) {
      for (const address of ["a:1", "a-much-longer-host.example.org:65535"]) {
        let packet = buildOnion(box, {
          message: new Uint8Array(length),
          kind,
          recipient: { address, publicKey: box.generateKeyPair().publicKey },
          route,
          payloadSize: PAYLOAD,
        });
        const lengths = [packet.length];
        for (let i = 0; i < 3; i++) {
          packet = peelLayer(box, packet, keys[i], { payloadSize: PAYLOAD, layers: 3 - i }).inner;
          lengths.push(packet.length);
        }
        sizes.add(lengths.join(","));
      }
    }
  }
  assert.equal(sizes.size, 1, [...sizes].join(" | "));
});

Deno.test("a message longer than payload_size is refused with both sizes", () => {
  const { route } = cascade(3);
  assert.throws(
    () =>
      buildOnion(box, {
        message: new Uint8Array(PAYLOAD + 1),
        kind: PayloadKind.message,
        recipient: { address: "a:1", publicKey: route[0].publicKey },
        route,
        payloadSize: PAYLOAD,
      }),
    /Message is too long: 257 bytes, a packet carries at most 256/,
  );
});

Deno.test("tampering with any byte of any layer makes that layer fail", () => {
  const { keys, route } = cascade(3);
  const recipient = box.generateKeyPair();
  const packet = buildOnion(box, {
    message: encoder.encode("x"),
    kind: PayloadKind.message,
    recipient: { address: "a:1", publicKey: recipient.publicKey },
    route,
    payloadSize: 16,
  });
  let layerPacket = packet;
  for (let i = 0; i < 3; i++) {
    const expected = { payloadSize: 16, layers: 3 - i };
    for (let index = 0; index < layerPacket.length; index += 7) {
      const tampered = layerPacket.slice();
      tampered[index] ^= 0x80;
      assert.throws(
        () => peelLayer(box, tampered, keys[i], expected),
        (e: Error) => e instanceof PacketError && e.reason === "undecryptable",
      );
    }
    layerPacket = peelLayer(box, layerPacket, keys[i], expected).inner;
  }
  const tampered = layerPacket.slice();
  tampered[60] ^= 1;
  assert.throws(() => openPayload(box, tampered, recipient, 16), /authentication failed/);
});

Deno.test("a layer opened with the wrong mix key fails", () => {
  const { keys, route } = cascade(3);
  const packet = buildOnion(box, {
    message: new Uint8Array(),
    kind: PayloadKind.dummy,
    recipient: { address: "a:1", publicKey: route[0].publicKey },
    route,
    payloadSize: 16,
  });
  assert.throws(
    () => peelLayer(box, packet, keys[1], { payloadSize: 16, layers: 3 }),
    /Cannot peel packet: layer authentication failed/,
  );
});

Deno.test("truncated and over-long packets fail clearly", () => {
  const { keys, route } = cascade(2);
  const packet = buildOnion(box, {
    message: new Uint8Array(),
    kind: PayloadKind.dummy,
    recipient: { address: "a:1", publicKey: route[0].publicKey },
    route,
    payloadSize: 16,
  });
  const expected = { payloadSize: 16, layers: 2 };
  assert.throws(
    () => peelLayer(box, packet.subarray(0, packet.length - 1), keys[0], expected),
    new RegExp(`expected ${packet.length} bytes at this hop, got ${packet.length - 1}`),
  );
  const longer = new Uint8Array(packet.length + 1);
  longer.set(packet);
  assert.throws(
    () => peelLayer(box, longer, keys[0], expected),
    (e: Error) => e instanceof PacketError && e.reason === "wrong-size",
  );
  assert.throws(() => peelLayer(box, new Uint8Array(), keys[0], expected), /got 0/);
});

Deno.test("an unknown layer version and a malformed hop fail clearly", () => {
  const mix = box.generateKeyPair();
  const inner = new Uint8Array(innermostSize(16));
  const make = (version: number, hopKind: number) => {
    const layer = new Uint8Array(1 + 128 + inner.length);
    layer[0] = version;
    layer[1] = hopKind;
    return box.seal(layer, mix.publicKey);
  };
  assert.throws(
    () => peelLayer(box, make(9, HopKind.client), mix, { payloadSize: 16, layers: 1 }),
    (e: Error) =>
      e instanceof PacketError && e.reason === "bad-version" &&
      /unknown layer version 9/.test(e.message),
  );
  assert.throws(
    () => peelLayer(box, make(1, 77), mix, { payloadSize: 16, layers: 1 }),
    (e: Error) => e instanceof PacketError && e.reason === "bad-hop",
  );
});

Deno.test("dummy and message kinds survive the trip, and cover traffic goes to the sink", () => {
  const { keys, route } = cascade(3);
  const me = box.generateKeyPair();
  for (const kind of [PayloadKind.dummy, PayloadKind.message]) {
    const packet = buildOnion(box, {
      message: encoder.encode("dummy"),
      kind,
      recipient: { address: "me:1", publicKey: me.publicKey },
      route,
      payloadSize: 32,
    });
    let inner = packet;
    for (let i = 0; i < 3; i++) {
      inner = peelLayer(box, inner, keys[i], { payloadSize: 32, layers: 3 - i }).inner;
    }
    assert.equal(openPayload(box, inner, me, 32).kind, kind);
  }
  const cover = buildOnion(box, {
    message: new Uint8Array(),
    kind: PayloadKind.dummy,
    recipient: null,
    route: route.slice(1),
    payloadSize: 32,
  });
  assert.equal(cover.length, packetSize(32, 2));
  const first = peelLayer(box, cover, keys[1], { payloadSize: 32, layers: 2 });
  const last = peelLayer(box, first.inner, keys[2], { payloadSize: 32, layers: 1 });
  assert.deepEqual(last.next, { kind: HopKind.sink, address: "" });
});

Deno.test("replay tags are equal for the same packet and differ between packets", () => {
  const { route } = cascade(1);
  const spec = {
    message: new Uint8Array(),
    kind: PayloadKind.dummy,
    recipient: { address: "a:1", publicKey: route[0].publicKey },
    route,
    payloadSize: 16,
  };
  const a = buildOnion(box, spec);
  const b = buildOnion(box, spec);
  assert.equal(replayTag(a), replayTag(a.slice()));
  assert.notEqual(replayTag(a), replayTag(b));
  assert.match(replayTag(a), /^[0-9a-f]{64}$/);
});
