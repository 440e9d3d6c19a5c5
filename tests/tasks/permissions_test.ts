import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/mod.ts";
import { netPermission, withNetPermission } from "../../tasks/launch/permissions.ts";

const config = (mixes: string[], clients: string[]) =>
  parseConfig(
    `messages_per_round: 1
round_duration: 1
dummy_payload: d
mix_servers:
${mixes.map((m, i) => `  - { id: mix_${i + 1}, ${m} }`).join("\n")}
clients:
${clients.map((c, i) => `  - { id: client_${i + 1}, ${c} }`).join("\n")}
`,
    "/etc/mixnet/config.yaml",
  );

Deno.test("a node is granted the address it listens on and the ones it dials, nothing else", () => {
  const c = config(
    [
      'address: "10.0.0.1:7001"',
      'address: "10.0.0.2:7002", listen: "0.0.0.0:7002"',
      'address: "10.0.0.3:7003"',
    ],
    ['address: "10.0.1.1:7101"', 'address: "[fd00::2]:7102"'],
  );
  assert.equal(
    netPermission(c, { role: "mix", id: "mix_2" }).flag,
    "--allow-net=0.0.0.0:7002,10.0.0.3:7003",
  );
  assert.equal(netPermission(c, { role: "mix", id: "mix_3" }).flag, "--allow-net=10.0.0.3:7003");
  assert.equal(
    netPermission(c, { role: "client", id: "client_2" }).flag,
    "--allow-net=[fd00::2]:7102,10.0.0.1:7001,10.0.0.3:7003",
  );
  assert.equal(
    netPermission(c, { role: "cli" }).flag,
    "--allow-net=10.0.1.1:7101,[fd00::2]:7102",
  );
  assert.equal(netPermission(c, { role: "network" }).broadBecause, undefined);
  assert.equal(netPermission(c, { role: "mix", id: "mix_9" }).flag, "--deny-net");
});

Deno.test("localhost is granted with the loopback addresses it resolves to", () => {
  const c = config(['address: "localhost:7001"'], ['address: "localhost:7101"']);
  assert.equal(
    netPermission(c, { role: "client", id: "client_1" }).flag,
    "--allow-net=localhost,127.0.0.1:7101,[::1]:7101,127.0.0.1:7001,[::1]:7001",
  );
});

Deno.test("a config that names hosts by name grants net access without a host list, and says why", () => {
  const c = config(
    ['address: "server_1:50051"', 'address: "server_2:50052"'],
    ['address: "client_1:50061"'],
  );
  const permission = netPermission(c, { role: "mix", id: "mix_1" });
  assert.equal(permission.flag, "--allow-net");
  assert.equal(
    permission.broadBecause,
    "server_1, server_2 are names resolved at run time, and Deno checks the addresses dialed",
  );
});

Deno.test("withNetPermission replaces the base grant, and keeps it when the config is unreadable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      path,
      'messages_per_round: 1\nround_duration: 1\ndummy_payload: d\nmix_servers: [{ id: m, address: "10.1.1.1:1" }]\nclients: [{ id: c, address: "10.1.1.2:2" }]\n',
    );
    const base = ["--allow-read", "--allow-net=127.0.0.1", "--allow-env"];
    assert.deepEqual(withNetPermission(base, path, { role: "mix", id: "m" }), [
      "--allow-read",
      "--allow-env",
      "--allow-net=10.1.1.1:1",
    ]);
    assert.deepEqual(
      withNetPermission(base, `${dir}/missing.yaml`, { role: "mix", id: "m" }),
      base,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
