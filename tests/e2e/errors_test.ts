import assert from "node:assert/strict";
import { ApiCookie, cookiePath } from "../../src/client/mod.ts";
import { loadConfig } from "../../src/config/mod.ts";
import { deriveConfig } from "../../tasks/_network_config.ts";
import { CLI_PERMISSIONS, run } from "./_run.ts";

Deno.test("a broken config stops the network task with the file and the field named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      "messages_per_round: 1\nround_duration: 1\ndummy_payload: d\nmix_servers: [{id: m, address: server_2}]\nclients: [{id: c, address: '127.0.0.1:1'}]\n",
    );
    const result = await run("tasks/network.ts", ["--config", `${dir}/config.yaml`]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /network: .*config\.yaml: mix_servers\[0\]\.address: expected "host:port", got "server_2"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a port already in use stops the network task and says what to do", async () => {
  const configPath = await deriveConfig("config/config.yaml");
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  const text = await Deno.readTextFile(configPath);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(text)![1]);
  const squatter = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const result = await run("tasks/network.ts", ["--config", configPath]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`Port ${port} of mix_1 .* is already in use: .* --base-port`),
    );
  } finally {
    squatter.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sending to a client whose key file is missing says how to create it", async () => {
  const configPath = await deriveConfig("config/config.yaml");
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  try {
    const result = await run("src/cli.ts", [
      "send",
      "--from",
      "client_1",
      "--to",
      "client_2",
      "--message",
      "x",
      "--config",
      configPath,
    ], CLI_PERMISSIONS);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Cannot read the public key of client_2 from .*client_2\.key: .*deno task keygen/,
    );
    const keygen = await run("tasks/keygen.ts", ["--config", configPath]);
    assert.equal(keygen.code, 0, keygen.stderr);
    assert.match(
      keygen.stdout,
      /created: mix_1, mix_2, mix_3, client_1, client_2, client_3, client_4/,
    );
    const again = await run("tasks/keygen.ts", ["--config", configPath]);
    assert.match(again.stdout, /kept \(use --force to replace\): mix_1/);
    const down = await run("src/cli.ts", [
      "send",
      "--from",
      "client_1",
      "--to",
      "client_2",
      "--message",
      "x",
      "--config",
      configPath,
    ], CLI_PERMISSIONS);
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /client_1 is not running: it has no API cookie at .*client_1\.cookie .*: is the network running\? \(start it with "deno task network"\)/,
    );
    // A client killed with SIGKILL leaves its cookie behind: then its port does not answer.
    const config = await loadConfig(configPath);
    await new ApiCookie(cookiePath(config.keysDir, "client_1")).write();
    const dead = await run("src/cli.ts", [
      "send",
      "--from",
      "client_1",
      "--to",
      "client_2",
      "--message",
      "x",
      "--config",
      configPath,
    ], CLI_PERMISSIONS);
    assert.equal(dead.code, 1);
    assert.match(
      dead.stderr,
      /client_1 at 127\.0\.0\.1:\d+ is not reachable: is the network running\? \(start it with "deno task network"\)/,
    );
    const usage = await run("src/cli.ts", [
      "send",
      "--from",
      "nobody",
      "--to",
      "client_2",
      "--message",
      "x",
      "--config",
      configPath,
    ], CLI_PERMISSIONS);
    assert.equal(usage.code, 2);
    assert.match(
      usage.stderr,
      /--from: no client "nobody" in .* \(known: client_1, client_2, client_3, client_4\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile explains in one line why it cannot fetch its runtime here", async () => {
  const { isRuntimeDownloadFailure, compileArgs, TARGETS } = await import("../../tasks/compile.ts");
  assert.deepEqual(compileArgs(TARGETS[0]).slice(0, 4), [
    "compile",
    "--no-check",
    "--output",
    "dist/mixnet-mix",
  ]);
  assert.ok(compileArgs(TARGETS[0]).includes("--allow-net=127.0.0.1"));
  assert.ok(!compileArgs(TARGETS[2]).includes("--allow-write"));
  assert.ok(
    isRuntimeDownloadFailure(
      "error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): dns error",
    ),
  );
  assert.ok(!isRuntimeDownloadFailure("error: Module not found src/mix.ts"));
});
