import assert from "node:assert/strict";
import { cookieHeaders, readCookie } from "../../src/client/mod.ts";
import { loadConfig } from "../../src/config/mod.ts";
import { ClientStub, maxMessageBytes } from "../../src/rpc/mod.ts";
import { childEnv, deriveConfig, generateKeys, startNetwork } from "../../tasks/launch/mod.ts";
import { waitUntil } from "../_testkit/ports.ts";

Deno.test("a child's environment is chosen, not inherited: no LD_* or DYLD_*, no node defaults", () => {
  const env = childEnv({ NO_COLOR: "1" }, {
    PATH: "/usr/bin",
    HOME: "/home/u",
    DENO_DIR: "/cache/deno",
    NPM_CONFIG_REGISTRY: "https://registry.example",
    HTTPS_PROXY: "http://proxy:3128",
    TMPDIR: "/tmp/x",
    LD_LIBRARY_PATH: "/opt/conda/lib",
    LD_PRELOAD: "/lib/evil.so",
    DYLD_LIBRARY_PATH: "/opt/lib",
    CONFIG_PATH: "/elsewhere/config.yaml",
    MIX_ID: "mix_9",
    AWS_SECRET_ACCESS_KEY: "secret",
  });
  assert.deepEqual(env, {
    PATH: "/usr/bin",
    HOME: "/home/u",
    DENO_DIR: "/cache/deno",
    NPM_CONFIG_REGISTRY: "https://registry.example",
    HTTPS_PROXY: "http://proxy:3128",
    TMPDIR: "/tmp/x",
    NO_COLOR: "1",
  });
});

Deno.test("a network starts and delivers while the user's environment sets LD_LIBRARY_PATH", async () => {
  // Deno refuses to spawn a child with LD_* in its environment unless the parent holds every
  // run permission: before children got an explicit environment, every node failed to start.
  const before = Deno.env.get("LD_LIBRARY_PATH");
  Deno.env.set("LD_LIBRARY_PATH", "/opt/conda/lib");
  const configPath = await deriveConfig("config/config.yaml", { clients: 2, roundDuration: 0.3 });
  const config = await loadConfig(configPath);
  const stubs: ClientStub[] = [];
  try {
    await generateKeys(config);
    const network = await startNetwork(configPath);
    try {
      const stub = (id: string) => {
        const s = new ClientStub(config.clients.find((c) => c.id === id)!.address, {
          maxMessageBytes: maxMessageBytes(config),
          headers: cookieHeaders(readCookie(config.keysDir, id)),
        });
        stubs.push(s);
        return s;
      };
      await stub("client_1").prepareMessage({
        message: "through an unusual environment",
        recipient_pubkey: await Deno.readFile(`${config.dir}/client_2.key`),
        recipient_addr: config.clients[1].address,
      });
      const got: string[] = [];
      await waitUntil(
        async () => (got.push(...(await stub("client_2").pollMessages()).messages), got.length > 0),
        20_000,
        "the message",
        100,
      );
      assert.deepEqual(got, ["through an unusual environment"]);
    } finally {
      for (const s of stubs) s.close();
      await network.stop();
    }
  } finally {
    if (before === undefined) Deno.env.delete("LD_LIBRARY_PATH");
    else Deno.env.set("LD_LIBRARY_PATH", before);
    await Deno.remove(config.dir, { recursive: true });
  }
});
