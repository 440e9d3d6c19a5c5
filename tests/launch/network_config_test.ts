import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/mod.ts";
import { writeNetworkConfig } from "../../tasks/launch/mod.ts";

Deno.test("100,000 clients that serve nothing get distinct valid placeholder addresses", async () => {
  const path = await writeNetworkConfig({ clients: 100_000, unservedClients: true });
  try {
    const config = await loadConfig(path);
    assert.equal(config.clients.length, 100_000);
    assert.equal(new Set(config.clients.map((c) => c.address)).size, 100_000);
    assert.equal(config.clients[99_999].address, "127.3.0.1:39999");
  } finally {
    await Deno.remove(path.replace(/\/config\.yaml$/, ""), { recursive: true });
  }
});
