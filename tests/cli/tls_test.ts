import assert from "node:assert/strict";
import { stringify } from "yaml";
import { ApiCookie, cookiePath } from "../../src/client/mod.ts";
import { certificatePath, ensureTlsIdentity, generateTlsIdentity } from "../../src/crypto/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { startServer, TlsServer } from "../../src/rpc/mod.ts";
import { CLI_PERMISSIONS, run } from "../e2e/_run.ts";

Deno.test("the CLI reaches its client over TLS pinned to the client's certificate, and refuses another by fingerprint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-test-" });
  const paths = { configDir: dir, keysDir: `${dir}/secret` };
  const { identity } = await ensureTlsIdentity(paths, "client_1");
  const cookie = new ApiCookie(cookiePath(paths.keysDir, "client_1"));
  const server = await startServer("127.0.0.1:0", {
    maxMessageBytes: 1 << 20,
    tls: new TlsServer(identity),
    auth: { client: cookie.check({ logger: silentLogger, onRefused: () => {} }) },
    client: {
      PrepareMessage: () => Promise.reject(new Error("not here")),
      PollMessages: () => Promise.resolve({ messages: ["over TLS"] }),
    },
  });
  try {
    await cookie.write();
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      stringify({
        messages_per_round: 1,
        round_duration: 1,
        dummy_payload: "d",
        tls: "always",
        mix_servers: [{ id: "mix_1", address: "127.0.0.1:1" }],
        clients: [{ id: "client_1", address: `127.0.0.1:${server.port}` }],
      }),
    );
    const poll = () =>
      run("src/cli.ts", ["poll", "--client", "client_1", "--config", `${dir}/config.yaml`], [
        ...CLI_PERMISSIONS,
      ]);
    const good = await poll();
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout, "over TLS\n");

    const other = await generateTlsIdentity("client_1");
    await Deno.writeTextFile(certificatePath(dir, "client_1"), other.certificate.pem);
    const refused = await poll();
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `error: client_1 refused over TLS: client_1 at 127.0.0.1:${server.port} presented ` +
        `certificate ${identity.certificate.fingerprint}, not the one pinned for it ` +
        `(${other.certificate.fingerprint})`,
    );
  } finally {
    await server.close(0);
    await Deno.remove(dir, { recursive: true });
  }
});
