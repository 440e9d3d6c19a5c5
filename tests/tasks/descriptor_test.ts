import assert from "node:assert/strict";
import { createSealedBox, generateTlsIdentity, readCertificate } from "../../src/crypto/mod.ts";
import { ConfigError } from "../../src/errors.ts";
import {
  assembleNetwork,
  describe,
  type Descriptor,
  formatDescriptor,
  parseDescriptor,
} from "../../tasks/_descriptor.ts";

const box = await createSealedBox("tweetnacl");

async function node(id: string, role: "mix" | "client", port: number): Promise<Descriptor> {
  const tls = await generateTlsIdentity(id);
  return describe(
    { id, role, address: `10.0.0.${port % 250}:${port}`, listen: `0.0.0.0:${port}` },
    box.generateKeyPair().publicKey,
    tls.certificate.pem,
  );
}

Deno.test("a descriptor reads back as written, and holds nothing secret", async () => {
  const d = await node("mix_1", "mix", 7001);
  const text = formatDescriptor(d);
  assert.deepEqual(parseDescriptor(text, "mix_1.yaml"), d);
  assert.doesNotMatch(text, /PRIVATE|secret:/);
  assert.match(text, new RegExp(`tls_fingerprint: ${d.fingerprint}`));
});

Deno.test("a descriptor whose fingerprint is not its certificate's, or with a bad key, is refused by field", async () => {
  const d = await node("mix_1", "mix", 7001);
  const text = formatDescriptor(d);
  const altered = text.replace(/tls_fingerprint: ../, "tls_fingerprint: 00");
  assert.throws(
    () => parseDescriptor(altered, "m.yaml"),
    /^ConfigError: m\.yaml: tls_fingerprint: 00:.* is not the fingerprint of tls_certificate \(.*\): the file was altered/,
  );
  assert.throws(
    () => parseDescriptor(text.replace(/public_key: .*/, "public_key: abc"), "m.yaml"),
    /m\.yaml: public_key: Invalid public_key/,
  );
  assert.throws(
    () => parseDescriptor(text.replace("role: mix", "role: boss"), "m.yaml"),
    /m\.yaml: role: /,
  );
  assert.throws(() => parseDescriptor(text + "secret_key: x\n", "m.yaml"), ConfigError);
});

Deno.test("assembling writes a valid config in cascade order and every public file, with a stable digest", async () => {
  const nodes = [
    await node("mix_b", "mix", 7002),
    await node("mix_a", "mix", 7001),
    await node("alice", "client", 7101),
  ];
  const dir = await Deno.makeTempDir();
  try {
    const first = await assembleNetwork(nodes, { round_duration: 0.5 }, `${dir}/one`);
    assert.deepEqual(first.config.mixServers.map((m) => m.id), ["mix_b", "mix_a"]);
    assert.equal(first.config.messagesPerRound, 1);
    assert.equal(first.config.roundDuration, 0.5);
    assert.equal(first.config.mixServers[0].listen, "0.0.0.0:7002");
    assert.equal((await readCertificate(`${dir}/one`, "alice")).fingerprint, nodes[2].fingerprint);
    assert.equal(
      (await Deno.readTextFile(`${dir}/one/mix_a.key`)).trim(),
      nodes[1].publicKey,
    );
    const second = await assembleNetwork(nodes, { round_duration: 0.5 }, `${dir}/two`);
    assert.equal(second.digest, first.digest);
    const other = await assembleNetwork(nodes, { round_duration: 1 }, `${dir}/three`);
    assert.notEqual(other.digest, first.digest);
    await assert.rejects(
      assembleNetwork(nodes, { mix_servers: [] }, `${dir}/four`),
      /settings: mix_servers: nodes come from descriptors/,
    );
    await assert.rejects(
      assembleNetwork([...nodes, nodes[1]], {}, `${dir}/five`),
      /mix_servers\[2\]\.id: duplicate id "mix_a"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
