import assert from "node:assert/strict";
import { stringify } from "yaml";
import { ApiCookie, cookiePath } from "../../src/client/mod.ts";
import { loadConfig } from "../../src/config/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { startServer } from "../../src/rpc/mod.ts";
import { CLI_PERMISSIONS, run } from "../e2e/_run.ts";

/** Messages a hostile or careless sender might send, and plain non-ASCII text. */
const MESSAGES = [
  "nul\x01ctl\x1b[31mRED",
  "line1\nline2",
  "héllo wörld, 日本語, 👋",
  "back\\slash and \u202eevil",
];

/**
 * A client's own service on a free port that hands out `MESSAGES` on the first poll and then
 * nothing, behind a real API cookie, and a config that names it client_2.
 */
async function fakeClient() {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-test-" });
  let mailbox = [...MESSAGES];
  const cookie = new ApiCookie(cookiePath(`${dir}/secret`, "client_2"));
  const server = await startServer("127.0.0.1:0", {
    maxMessageBytes: 1 << 20,
    auth: { client: cookie.check({ logger: silentLogger, onRefused: () => {} }) },
    client: {
      PrepareMessage: () => Promise.reject(new Error("not here")),
      PollMessages() {
        const messages = mailbox;
        mailbox = [];
        return Promise.resolve({ messages });
      },
    },
  });
  await Deno.writeTextFile(
    `${dir}/config.yaml`,
    stringify({
      messages_per_round: 1,
      round_duration: 1,
      dummy_payload: "d",
      mix_servers: [{ id: "mix_1", address: "127.0.0.1:1" }],
      clients: [{ id: "client_2", address: `127.0.0.1:${server.port}` }],
      keys_dir: "secret",
    }),
  );
  await cookie.write();
  const config = await loadConfig(`${dir}/config.yaml`);
  return {
    config,
    refill: () => (mailbox = [...MESSAGES]),
    poll: (...flags: string[]) =>
      run(
        "src/cli.ts",
        ["poll", "--client", "client_2", "--config", config.file, ...flags],
        CLI_PERMISSIONS,
      ),
    async close() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("poll prints each message on one line with control characters escaped; an empty mailbox says so on stderr", async () => {
  const client = await fakeClient();
  try {
    const polled = await client.poll();
    assert.equal(polled.code, 0, polled.stderr);
    assert.equal(
      polled.stdout,
      [
        "nul\\x01ctl\\x1b[31mRED",
        "line1\\nline2",
        "héllo wörld, 日本語, 👋",
        "back\\\\slash and \\u{202e}evil",
        "",
      ].join("\n"),
    );
    const empty = await client.poll();
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, "");
    assert.match(empty.stderr, /^no new messages for client_2\n$/);
  } finally {
    await client.close();
  }
});

Deno.test("poll --json prints one object per message; --raw prints the bytes as sent", async () => {
  const client = await fakeClient();
  try {
    const json = await client.poll("--json");
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout.split("\n");
    assert.equal(lines.pop(), "");
    assert.deepEqual(
      lines.map((line) => JSON.parse(line)),
      MESSAGES.map((message) => ({ message })),
    );
    assert.doesNotMatch(json.stdout.replaceAll("\n", ""), /[\p{Cc}\u202e]/u);
    client.refill();
    const raw = await client.poll("--raw");
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, MESSAGES.map((m) => m + "\n").join(""));
    const both = await client.poll("--raw", "--json");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--json and --raw exclude each other/);
  } finally {
    await client.close();
  }
});

Deno.test("poll without the client's cookie, or with a wrong one, is refused and prints no message", async () => {
  const client = await fakeClient();
  try {
    const path = cookiePath(client.config.keysDir, "client_2");
    await Deno.writeTextFile(path, "0".repeat(64) + "\n");
    const wrong = await client.poll();
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stdout, "");
    assert.match(
      wrong.stderr,
      /client_2 refused: Client\.PollMessages needs this client's API cookie/,
    );
    await Deno.remove(path);
    const none = await client.poll();
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /client_2 is not running: it has no API cookie at .*client_2\.cookie/,
    );
  } finally {
    await client.close();
  }
});
