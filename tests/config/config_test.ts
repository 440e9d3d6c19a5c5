import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { loadConfig, parseConfig } from "../../src/config/mod.ts";
import { packetSize } from "../../src/onion/mod.ts";
import { maxBatchPackets, maxMessageBytes } from "../../src/rpc/mod.ts";

const FILE = "config/config.yaml";
const BASE = `
messages_per_round: 2
round_duration: 0.5
dummy_payload: dummy
mix_servers:
  - { id: mix_1, address: "127.0.0.1:7001" }
  - { id: mix_2, address: "127.0.0.1:7002" }
clients:
  - { id: client_1, address: "127.0.0.1:7101" }
  - { id: client_2, address: "127.0.0.1:7102" }
`;

function refuse(text: string, pattern: RegExp): void {
  assert.throws(() => parseConfig(text, FILE), (error: Error) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("the shipped config loads with defaults applied and is frozen", async () => {
  const config = await loadConfig(new URL("../../config/config.yaml", import.meta.url).pathname);
  assert.equal(config.mixServers.length, 3);
  assert.equal(config.clients.length, 4);
  assert.equal(config.roundDuration, 1);
  assert.equal(config.payloadSize, 1024);
  assert.equal(config.cryptoBackend, "native");
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.mixServers[0]));
  assert.ok(config.mixServers.every((m) => m.address.startsWith("127.0.0.1:")));
});

Deno.test("optional keys get their documented defaults, paths resolve beside the file", () => {
  const config = parseConfig(BASE, "/etc/mixnet/config.yaml");
  assert.equal(config.payloadSize, 1024);
  assert.equal(config.roundTimeout, 0.25);
  assert.equal(config.keysDir, "/etc/mixnet/secret");
  assert.equal(config.dataDir, "/etc/mixnet/data");
  assert.equal(config.dir, "/etc/mixnet");
  assert.deepEqual(
    [config.fetchEvery, config.fetchSize, config.mailboxCapacity, config.loopEvery],
    [1, 2, 256, 10],
  );
  const custom = parseConfig(
    BASE + "payload_size: 10\nround_timeout: 0\nkeys_dir: /k\ncrypto_backend: tweetnacl\n",
    FILE,
  );
  assert.deepEqual(
    [custom.payloadSize, custom.roundTimeout, custom.keysDir, custom.cryptoBackend],
    [10, 0, "/k", "tweetnacl"],
  );
});

Deno.test("a mailbox that cannot hold one fetch is refused", () => {
  refuse(
    BASE + "fetch_size: 4\nmailbox_capacity: 3\n",
    /mailbox_capacity: expected at least fetch_size \(4\), got 3/,
  );
});

Deno.test("a bad address names the file, the field and what was expected", () => {
  refuse(
    BASE.replace('"127.0.0.1:7002"', "server_2"),
    /^config\/config\.yaml: mix_servers\[1\]\.address: expected "host:port", got "server_2"$/,
  );
  refuse(
    BASE.replace("7101", "70000"),
    /clients\[0\]\.address: port must be 1 to 65535, got 70000/,
  );
});

Deno.test("duplicate ids and duplicate addresses are refused", () => {
  refuse(
    BASE.replace("id: mix_2", "id: mix_1"),
    /mix_servers\[1\]\.id: duplicate id "mix_1", already used by mix_servers\[0\]/,
  );
  refuse(
    BASE.replace("7102", "7001"),
    /clients\[1\]\.address: duplicate address "127\.0\.0\.1:7001"/,
  );
});

Deno.test("messages_per_round above the number of clients is refused", () => {
  refuse(
    BASE.replace("messages_per_round: 2", "messages_per_round: 3"),
    /messages_per_round: expected at most the number of clients \(2\), got 3/,
  );
});

Deno.test("zero mixes and missing keys are refused", () => {
  refuse(
    BASE.replace(/mix_servers:\n( {2}- .*\n)+/, "mix_servers: []\n"),
    /mix_servers: expected at least one mix server/,
  );
  refuse(
    BASE.replace("dummy_payload: dummy\n", ""),
    /dummy_payload: expected string, got nothing \(the key is required\)/,
  );
});

Deno.test("unknown keys are refused with a suggestion", () => {
  refuse(
    BASE + "round_duraton: 1\n",
    /round_duraton: unknown key, did you mean "round_duration"\?/,
  );
  refuse(
    BASE.replace('address: "127.0.0.1:7101"', 'adress: "127.0.0.1:7101"'),
    /clients\[0\]\.adress: unknown key, did you mean "address"\?/,
  );
  refuse(BASE + "zzz: 1\n", /zzz: unknown key$/m);
});

Deno.test("wrong types, bad YAML and a missing file are refused clearly", async () => {
  refuse(
    BASE.replace("round_duration: 0.5", "round_duration: fast"),
    /round_duration: expected number, got string "fast"/,
  );
  refuse("messages_per_round: [\n", /^config\/config\.yaml(:\d+)?: not valid YAML/);
  refuse("*-", /^config\/config\.yaml: not valid YAML: Unresolved alias/);
  refuse("- a\n- b\n", /\(document\): expected object, got a list/);
  refuse(BASE + "crypto_backend: rot13\n", /crypto_backend: .*"libsodium"/);
  await assert.rejects(
    loadConfig("/nonexistent/config.yaml"),
    /Cannot read config \/nonexistent\/config\.yaml: no such file/,
  );
});

Deno.test("every range error names the field and the value given", () => {
  const cases: [string, string, RegExp][] = [
    [
      "round_duration: 0.5",
      "round_duration: -1",
      /round_duration: expected a number >= 0\.01, got -1$/,
    ],
    [
      "round_duration: 0.5",
      "round_duration: 5000",
      /round_duration: expected a number <= 3600, got 5000$/,
    ],
    [
      "round_duration: 0.5",
      "round_duration: .inf",
      /round_duration: expected number, got number Infinity$/,
    ],
    [
      "messages_per_round: 2",
      "messages_per_round: 0",
      /messages_per_round: expected a number >= 1, got 0$/,
    ],
    [
      "messages_per_round: 2",
      "messages_per_round: 1.5",
      /messages_per_round: expected a whole number, got number 1\.5$/,
    ],
    [
      "dummy_payload: dummy",
      "dummy_payload: dummy\npayload_size: 0",
      /payload_size: expected a number >= 1, got 0$/,
    ],
    [
      "dummy_payload: dummy",
      "dummy_payload: dummy\nround_timeout: -2",
      /round_timeout: expected a number >= 0, got -2$/,
    ],
    [
      "dummy_payload: dummy",
      "dummy_payload: dummy\nmin_batch: -3",
      /min_batch: expected a number >= 0, got -3$/,
    ],
    [
      "dummy_payload: dummy",
      "dummy_payload: dummy\nmax_queued_bytes: 0",
      /max_queued_bytes: expected a number >= 1, got 0$/,
    ],
    [
      "dummy_payload: dummy",
      'dummy_payload: dummy\nkeys_dir: ""',
      /keys_dir: expected at least 1 character, got ""$/,
    ],
    ["id: client_1", "id: bad id", /clients\[0\]\.id: expected an id of 1 to 64 .*, got "bad id"$/],
    [
      "dummy_payload: dummy",
      "dummy_payload: dummy\ncrypto_backend: rot13",
      /crypto_backend: expected one of "native", "libsodium", "tweetnacl", got "rot13"$/,
    ],
    [
      '"127.0.0.1:7001"',
      `"${"h".repeat(200)}:1"`,
      /mix_servers\[0\]\.address: expected at most 126 characters, got "h{40}…" \(202 characters\)$/,
    ],
  ];
  for (const [from, to, pattern] of cases) {
    refuse(BASE.replace(from, to), new RegExp(`^config/config\\.yaml: ${pattern.source}`));
  }
  refuse(
    BASE.replace(/mix_servers:\n( {2}- .*\n)+/, "mix_servers: []\n"),
    /mix_servers: expected at least one mix server, got an empty list$/,
  );
});

Deno.test("a YAML syntax error is reported at the line where it is, with a clean message", async () => {
  const shipped = await Deno.readTextFile(new URL("../../config/config.yaml", import.meta.url));
  const lines = shipped.split("\n");
  assert.equal(lines[4], 'dummy_payload: "dummy"');
  const withLine5 = (line: string) => lines.with(4, line).join("\n");
  refuse(
    withLine5('dummy_payload: "dummy'),
    /^config\/config\.yaml:5: not valid YAML: the double-quoted string that opens at column 16 is never closed \(Missing closing "quote\)$/,
  );
  refuse(
    withLine5("dummy_payload: 'dummy"),
    /^config\/config\.yaml:5: not valid YAML: the single-quoted string that opens at column 16/,
  );
  refuse(
    withLine5("dummy_payload: [dummy"),
    /^config\/config\.yaml:5: not valid YAML: the list "\[" that opens at column 16 is never closed/,
  );
  refuse(
    withLine5("dummy_payload: {a: b"),
    /^config\/config\.yaml:5: not valid YAML: the mapping "\{" that opens at column 16/,
  );
  refuse(
    withLine5('dummy_payload: "a" b: c'),
    /^config\/config\.yaml:5: not valid YAML: Nested mappings are not allowed in compact mappings \(column 16\)$/,
  );
  refuse(
    withLine5("round_duration: 2"),
    /^config\/config\.yaml:5: not valid YAML: Map keys must be unique \(column 1\)$/,
  );
});

Deno.test("a node binds its listen address when it has one, else its address", () => {
  const config = parseConfig(
    BASE.replace(
      '{ id: mix_1, address: "127.0.0.1:7001" }',
      '{ id: mix_1, address: "mix1.example.org:7001", listen: "0.0.0.0:7001" }',
    ),
    FILE,
  );
  assert.equal(config.mixServers[0].address, "mix1.example.org:7001");
  assert.equal(config.mixServers[0].listen, "0.0.0.0:7001");
  assert.equal(config.mixServers[1].listen, "127.0.0.1:7002");
  refuse(
    BASE.replace('address: "127.0.0.1:7002" }', 'address: "127.0.0.1:7002", listen: 7002 }'),
    /mix_servers\[1\]\.listen: expected string, got number 7002/,
  );
  refuse(
    BASE.replace('address: "127.0.0.1:7002" }', 'address: "127.0.0.1:7002", lisen: x }'),
    /mix_servers\[1\]\.lisen: unknown key, did you mean "listen"\?/,
  );
});

Deno.test("TLS is on for every node off loopback unless the config says otherwise", () => {
  const mixed = BASE.replace('"127.0.0.1:7002"', '"10.0.0.2:7002"')
    .replace('"127.0.0.1:7102"', '"[::1]:7102"')
    .replace('"127.0.0.1:7101"', '"localhost:7101"');
  const tlsOf = (text: string) =>
    [...parseConfig(text, FILE).mixServers, ...parseConfig(text, FILE).clients].map((n) => n.tls);
  assert.deepEqual(tlsOf(mixed), [false, true, false, false]);
  assert.deepEqual(tlsOf(mixed + "tls: always\n"), [true, true, true, true]);
  assert.deepEqual(tlsOf(mixed + "tls: never\n"), [false, false, false, false]);
  refuse(mixed + "tls: yes\n", /tls: expected one of "auto", "always", "never", got "yes"/);
});

Deno.test("the original design's config, with host names, loads unchanged", () => {
  const original = `messages_per_round: 2
round_duration: 1
dummy_payload: dummy
mix_servers:
- id: server_1
  address: server_1:50051
- id: server_2
  address: server_2:50052
- id: server_3
  address: server_3:50053
clients:
- id: client_1
  address: client_1:50061
- id: client_2
  address: client_2:50062
`;
  const config = parseConfig(original, "/app/config/config.yaml");
  assert.deepEqual(config.mixServers.map((m) => [m.listen, m.tls]), [
    ["server_1:50051", true],
    ["server_2:50052", true],
    ["server_3:50053", true],
  ]);
  assert.equal(config.keysDir, "/app/config/secret");
});

Deno.test("limits come from what a round carries: cover packets count, and a config that cannot work is refused", async (t) => {
  await t.step("a round topped up to min_batch fits the size limit", () => {
    const config = parseConfig(`${BASE}min_batch: 100\n`, FILE);
    const packet = packetSize(config.payloadSize, config.mixServers.length);
    assert.ok(maxMessageBytes(config) > 100 * packet, `${maxMessageBytes(config)}`);
    assert.equal(maxBatchPackets(config), 100);
  });
  await t.step("a mailbox fetch larger than one gRPC message", () => {
    refuse(
      `${BASE}payload_size: 16777216\nfetch_size: 200\nmailbox_capacity: 200\n`,
      /config\.yaml: fetch_size: 200 packets of payload_size 16777216 make a mailbox fetch of \d+ bytes, more than one gRPC message can carry \(2147483647\): lower fetch_size or payload_size/,
    );
  });
  await t.step("a queue limit below one packet, which would refuse every packet", () => {
    refuse(
      `${BASE}max_queued_bytes: 100\n`,
      /max_queued_bytes: 100 is less than one client packet \(\d+ bytes at payload_size 1024\), so the first mix would refuse every packet: raise it to at least \d+/,
    );
  });
});
