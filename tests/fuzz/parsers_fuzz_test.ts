import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "yaml";
import { parseConfig } from "../../src/config/mod.ts";
import { createSealedBox } from "../../src/crypto/mod.ts";
import { ConfigError, PacketError } from "../../src/errors.ts";
import { decodeHop, openPayload, packetSize, peelLayer } from "../../src/onion/mod.ts";

const box = await createSealedBox();
const mix = box.generateKeyPair();
const RUNS = { seed: 42, numRuns: 300 };

Deno.test("peelLayer and openPayload answer any bytes with a PacketError and nothing else", () => {
  const payloadSize = 32;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 2 * packetSize(payloadSize, 2) }),
        fc.uint8Array({
          minLength: packetSize(payloadSize, 2),
          maxLength: packetSize(payloadSize, 2),
        }),
      ),
      fc.integer({ min: 1, max: 3 }),
      (bytes, layers) => {
        for (
          const attempt of [
            () => peelLayer(box, bytes, mix, { payloadSize, layers }),
            () => openPayload(box, bytes, mix, payloadSize),
          ]
        ) {
          assert.throws(
            attempt,
            (error: Error) => error instanceof PacketError && error.message.length > 0,
          );
        }
      },
    ),
    RUNS,
  );
});

Deno.test("a sealed layer with random contents is refused with a reason, never accepted blindly", () => {
  const payloadSize = 16;
  const layers = 1;
  const plainLength = packetSize(payloadSize, layers) - 48;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: plainLength, maxLength: plainLength }), (plain) => {
      const packet = box.seal(plain, mix.publicKey);
      try {
        const peeled = peelLayer(box, packet, mix, { payloadSize, layers });
        // Only a well-formed header opens: version 1 and a known hop kind.
        assert.equal(plain[0], 1);
        assert.ok([1, 2, 3].includes(peeled.next.kind));
      } catch (error) {
        assert.ok(error instanceof PacketError, String(error));
        assert.ok(["bad-version", "bad-hop"].includes(error.reason), error.reason);
      }
    }),
    RUNS,
  );
});

Deno.test("decodeHop reads any 128 bytes as a hop or refuses them with bad-hop", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 128, maxLength: 128 }), (bytes) => {
      try {
        const hop = decodeHop(bytes, 0);
        assert.ok(hop.address.length <= 126);
      } catch (error) {
        assert.ok(error instanceof PacketError && error.reason === "bad-hop", String(error));
      }
    }),
    RUNS,
  );
});

const VALID = {
  messages_per_round: 1,
  round_duration: 1,
  dummy_payload: "d",
  mix_servers: [{ id: "mix_1", address: "127.0.0.1:7000" }],
  clients: [{ id: "client_1", address: "127.0.0.1:7001" }],
};

Deno.test("parseConfig answers any document with a Config or a ConfigError naming the file", () => {
  const anyValue = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.string(), { maxKeys: 3 }),
  );
  const documents = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.record({
      key: fc.constantFrom(
        ...Object.keys(VALID),
        "payload_size",
        "round_timeout",
        "min_batch",
        "crypto_backend",
        "unknown",
      ),
      value: anyValue,
    })
      .map(({ key, value }) => stringify({ ...VALID, [key]: value })),
    fc.record({
      index: fc.nat(1),
      field: fc.constantFrom("id", "address", "extra"),
      value: anyValue,
    })
      .map(({ field, value }) =>
        stringify({ ...VALID, mix_servers: [{ ...VALID.mix_servers[0], [field]: value }] })
      ),
  );
  fc.assert(
    fc.property(documents, (text) => {
      try {
        const config = parseConfig(text, "fuzz.yaml");
        assert.ok(Object.isFrozen(config));
      } catch (error) {
        assert.ok(error instanceof ConfigError, `${String(error)} for ${JSON.stringify(text)}`);
        assert.match(error.message, /^fuzz\.yaml/);
      }
    }),
    { seed: 7, numRuns: 500 },
  );
});
