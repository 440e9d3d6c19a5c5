import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createSealedBox, generateTlsIdentity, readCertificate } from "../../src/crypto/mod.ts";
import { ConfigError } from "../../src/errors.ts";
import {
  assembleNetwork,
  describe,
  type Descriptor,
  formatDescriptor,
  parseDescriptor,
} from "../../tasks/_descriptor.ts";
import { childEnv } from "../../tasks/launch/environment.ts";

const box = await createSealedBox("tweetnacl");

async function node(
  id: string,
  role: "mix" | "client",
  port: number,
  wirePort?: number,
): Promise<Descriptor> {
  const tls = await generateTlsIdentity(id);
  return describe(
    { id, role, address: `10.0.0.${port % 250}:${port}`, listen: `0.0.0.0:${port}`, wirePort },
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

Deno.test("a mix's wire port travels in its descriptor into the assembled config; a client's descriptor with one is refused", async () => {
  const nodes = [
    await node("mix_a", "mix", 7001, 8001),
    await node("mix_b", "mix", 7002),
    await node("alice", "client", 7101),
  ];
  const text = formatDescriptor(nodes[0]);
  assert.match(text, /^wire_port: 8001$/m);
  assert.deepEqual(parseDescriptor(text, "mix_a.yaml"), nodes[0]);
  assert.doesNotMatch(formatDescriptor(nodes[1]), /wire_port/);
  assert.throws(
    () => parseDescriptor(formatDescriptor(nodes[2]) + "wire_port: 8101\n", "alice.yaml"),
    /^ConfigError: alice\.yaml: wire_port: a client serves no wire protocol/,
  );
  const dir = await Deno.makeTempDir();
  try {
    const { config } = await assembleNetwork(nodes, {}, dir);
    assert.deepEqual(config.mixServers[0].wire, {
      address: "10.0.0.1:8001",
      listen: "0.0.0.0:8001",
    });
    assert.equal(config.mixServers[1].wire, undefined);
    assert.match(await Deno.readTextFile(`${dir}/config.yaml`), /^ {4}wire_port: 8001$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const TASKS = fileURLToPath(new URL("../../tasks/", import.meta.url));

/** Runs `tasks/<script>` with `args` as `deno task` does; its exit code and output. */
async function task(script: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi"]
      .concat(`${TASKS}${script}`, args),
    clearEnv: true,
    env: childEnv(),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("deno task descriptor takes a mix's --wire-port, or the config's wire_port, and refuses one for a client", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const id of ["mix_1", "client_1"]) {
      assert.equal((await task("keygen.ts", ["--id", id, "--dir", dir])).code, 0);
    }
    const place = ["--address", "10.0.0.1:50051", "--dir", dir];
    const given = await task("descriptor.ts", [
      ...["--id", "mix_1", "--role", "mix", "--wire-port", "51051", ...place],
    ]);
    assert.equal(given.code, 0, given.stderr);
    assert.equal(parseDescriptor(given.stdout, "stdout").wirePort, 51051);

    const client = await task("descriptor.ts", [
      ...["--id", "client_1", "--role", "client", "--wire-port", "51051", ...place],
    ]);
    assert.equal(client.code, 2);
    assert.match(client.stderr, /^descriptor: --wire-port: only a mix serves the wire protocol$/m);
    const bad = await task("descriptor.ts", [
      ...["--id", "mix_1", "--role", "mix", "--wire-port", "70000", ...place],
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--wire-port: expected a whole number >= 1 and <= 65535, got "70000"/);

    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      `messages_per_round: 1
round_duration: 1
dummy_payload: d
mix_servers: [{ id: mix_1, address: "10.0.0.1:50051", wire_port: 51052 }]
clients: [{ id: client_1, address: "10.0.0.11:50061" }]
`,
    );
    for (const [id, wirePort] of [["mix_1", 51052], ["client_1", undefined]] as const) {
      const fromConfig = await task("descriptor.ts", [
        "--id",
        id,
        "--config",
        `${dir}/config.yaml`,
      ]);
      assert.equal(fromConfig.code, 0, fromConfig.stderr);
      assert.equal(parseDescriptor(fromConfig.stdout, "stdout").wirePort, wirePort);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
