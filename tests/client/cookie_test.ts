import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { ApiCookie, cookieHeaders, cookiePath, readCookie } from "../../src/client/mod.ts";
import { ClientStub, grpc, maxMessageBytes } from "../../src/rpc/mod.ts";

Deno.test("a client writes a fresh owner-only API cookie at every start and removes it when it stops", async () => {
  const net = await createTestNetwork({ clients: 1, roundDuration: 0.2, roundTimeout: 0.1 });
  const path = cookiePath(net.config.keysDir, "client_1");
  const stubs: ClientStub[] = [];
  const stub = (token: string) => {
    const s = new ClientStub(net.config.clients[0].address, {
      maxMessageBytes: maxMessageBytes(net.config),
      headers: cookieHeaders(token),
    });
    stubs.push(s);
    return s;
  };
  try {
    await net.startAllMixes();
    await net.startClient("client_1");
    const first = readCookie(net.config.keysDir, "client_1");
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(((await Deno.stat(path)).mode! & 0o777).toString(8), "600");
    assert.deepEqual((await stub(first).pollMessages()).messages, []);

    // Channels close before the server does (GOAWAY can crash an open Deno 2.9.6 session:
    // denoland/deno#36788).
    for (const s of stubs.splice(0)) s.close();
    await net.stopClient("client_1");
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.throws(
      () => readCookie(net.config.keysDir, "client_1"),
      /client_1 is not running: it has no API cookie at .*client_1\.cookie/,
    );

    await net.startClient("client_1");
    const second = readCookie(net.config.keysDir, "client_1");
    assert.notEqual(second, first);
    const stale = await stub(first).pollMessages().then(() => undefined, (e) => e);
    assert.equal(stale?.code, grpc.status.UNAUTHENTICATED);
    assert.deepEqual((await stub(second).pollMessages()).messages, []);
  } finally {
    for (const s of stubs) s.close();
    await net.close();
  }
});

Deno.test("removing a cookie leaves a newer one alone; a cookie that cannot be written or read is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const older = new ApiCookie(cookiePath(`${dir}/keys`, "client_1"));
    await older.write();
    assert.equal(((await Deno.stat(`${dir}/keys`)).mode! & 0o777).toString(8), "700");
    const newer = new ApiCookie(older.path);
    await newer.write();
    await older.remove();
    const token = readCookie(`${dir}/keys`, "client_1");
    await newer.remove();
    await assert.rejects(Deno.stat(older.path), Deno.errors.NotFound);
    assert.match(token, /^[0-9a-f]{64}$/);

    // A keys_dir that is a file (a path that cannot hold the cookie, even for root).
    await Deno.writeTextFile(`${dir}/not-a-folder`, "");
    await assert.rejects(
      new ApiCookie(cookiePath(`${dir}/not-a-folder`, "client_1")).write(),
      /Cannot write the API cookie .*not-a-folder\/client_1\.cookie: /,
    );
    await Deno.writeTextFile(older.path, "not a token\n");
    assert.throws(
      () => readCookie(`${dir}/keys`, "client_1"),
      /API cookie .*client_1\.cookie of client_1 is malformed: expected 64 hex digits/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
