import assert from "node:assert/strict";
import {
  BACKENDS,
  createSealedBox,
  CryptoError,
  decodeBase64,
  type SealedBox,
} from "../../src/crypto/mod.ts";
import { PeerMac } from "../../src/crypto/mod.ts";

interface Vector {
  recipient_secret: string;
  recipient_public: string;
  ephemeral_secret: string;
  message: string;
  sealed: string;
  shared_key: string;
}

const vectors: Vector[] = JSON.parse(
  await Deno.readTextFile(new URL("../testdata/sealed_box_vectors.json", import.meta.url)),
);
const names = Object.keys(BACKENDS);
const boxes: Record<string, SealedBox> = {};
for (const name of names) boxes[name] = await createSealedBox(name);
const SIZES = [0, 1024, 1024 * 1024];

// One contract suite, run against every backend.
for (const name of names) {
  const box = boxes[name];

  Deno.test(`${name}: seal then open returns the message at 0 B, 1 KiB and 1 MiB`, () => {
    const pair = box.generateKeyPair();
    for (const size of SIZES) {
      const message = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      const full = new Uint8Array(size);
      full.set(message.subarray(0, size));
      const sealed = box.seal(full, pair.publicKey);
      assert.equal(sealed.length, size + 48);
      assert.deepEqual(box.open(sealed, pair), full);
    }
  });

  Deno.test(`${name}: reproduces the fixed vectors byte for byte`, () => {
    for (const v of vectors) {
      const recipient = {
        secretKey: decodeBase64(v.recipient_secret),
        publicKey: decodeBase64(v.recipient_public),
      };
      const ephemeralSecret = decodeBase64(v.ephemeral_secret);
      const ephemeral = { secretKey: ephemeralSecret, publicKey: box.publicKeyOf(ephemeralSecret) };
      assert.deepEqual(box.publicKeyOf(recipient.secretKey), recipient.publicKey);
      const sealed = box.sealWithEphemeral(decodeBase64(v.message), recipient.publicKey, ephemeral);
      assert.deepEqual(sealed, decodeBase64(v.sealed));
      assert.deepEqual(box.open(decodeBase64(v.sealed), recipient), decodeBase64(v.message));
      assert.deepEqual(
        box.sharedKey(recipient.secretKey, ephemeral.publicKey),
        decodeBase64(v.shared_key),
      );
    }
  });

  Deno.test(`${name}: seals and opens bytes held in views of larger buffers`, () => {
    // gRPC decodes bytes fields as views into the buffer of the whole message.
    const pair = box.generateKeyPair();
    const message = new Uint8Array(3000).map((_, i) => i * 3).subarray(100, 1100);
    const sealed = box.seal(message, pair.publicKey);
    const held = new Uint8Array(sealed.length + 100);
    held.set(sealed, 60);
    assert.deepEqual(box.open(held.subarray(60, 60 + sealed.length), pair), message);
  });

  Deno.test(`${name}: two seals of one message differ (fresh ephemeral key)`, () => {
    const pair = box.generateKeyPair();
    const message = new Uint8Array(16);
    assert.notDeepEqual(box.seal(message, pair.publicKey), box.seal(message, pair.publicKey));
  });

  Deno.test(`${name}: open fails with a typed error on wrong key, tampering and truncation`, () => {
    const pair = box.generateKeyPair();
    const other = box.generateKeyPair();
    const sealed = box.seal(new TextEncoder().encode("secret"), pair.publicKey);
    assert.throws(() => box.open(sealed, other), CryptoError);
    for (const index of [0, 31, 32, 47, 48, sealed.length - 1]) {
      const tampered = sealed.slice();
      tampered[index] ^= 1;
      assert.throws(() => box.open(tampered, pair), CryptoError, `byte ${index}`);
    }
    assert.throws(() => box.open(sealed.subarray(0, sealed.length - 1), pair), CryptoError);
    assert.throws(() => box.open(sealed.subarray(0, 47), pair), /shorter than its 48-byte/);
    assert.throws(() => box.open(new Uint8Array(), pair), CryptoError);
  });

  Deno.test(`${name}: keys of the wrong length are refused clearly`, () => {
    assert.throws(() => box.seal(new Uint8Array(1), new Uint8Array(31)), /expected 32 bytes/);
    assert.throws(() => box.sharedKey(new Uint8Array(32), new Uint8Array(33)), CryptoError);
  });

  Deno.test(`${name}: shared keys agree from both sides and MACs verify only for the pair`, () => {
    const a = box.generateKeyPair();
    const b = box.generateKeyPair();
    const c = box.generateKeyPair();
    assert.deepEqual(
      box.sharedKey(a.secretKey, b.publicKey),
      box.sharedKey(b.secretKey, a.publicKey),
    );
    const macA = new PeerMac(box, a);
    const macB = new PeerMac(box, b);
    const macC = new PeerMac(box, c);
    const tag = macA.sign(b.publicKey, "poll", "client_1", 42);
    assert.ok(macB.verify(a.publicKey, tag, "poll", "client_1", 42));
    assert.ok(!macB.verify(a.publicKey, tag, "poll", "client_1", 43));
    assert.ok(!macB.verify(a.publicKey, tag, "register", "client_1", 42));
    assert.ok(!macB.verify(a.publicKey, tag, "poll", "client_", "142"));
    assert.ok(!macC.verify(a.publicKey, tag, "poll", "client_1", 42));
    assert.ok(!macB.verify(a.publicKey, new Uint8Array(31), "poll", "client_1", 42));
  });
}

// Cross tests: every backend opens what every other sealed, at every size.
for (const sealer of names) {
  for (const opener of names) {
    if (sealer === opener) continue;
    Deno.test(`${sealer} seals and ${opener} opens, at 0 B, 1 KiB and 1 MiB`, () => {
      const pair = boxes[opener].generateKeyPair();
      for (const size of SIZES) {
        const message = new Uint8Array(size).map((_, i) => i * 7);
        const sealed = boxes[sealer].seal(message, pair.publicKey);
        assert.deepEqual(boxes[opener].open(sealed, pair), message);
      }
    });
  }
}

Deno.test("an unknown backend name is refused with the list of known ones", () => {
  assert.throws(
    () => createSealedBox("rot13"),
    /Unknown crypto backend "rot13": expected one of native, libsodium, tweetnacl/,
  );
});
