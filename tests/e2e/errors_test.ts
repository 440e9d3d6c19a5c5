import assert from "node:assert/strict";
import { ApiCookie, cookiePath } from "../../src/client/mod.ts";
import { loadConfig } from "../../src/config/mod.ts";
import { parse, stringify } from "yaml";
import { childEnv, deriveConfig, NodeProcess } from "../../tasks/launch/mod.ts";
import { CLI_PERMISSIONS, run, TASK_PERMISSIONS } from "./_run.ts";

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

Deno.test("every entry script and task names a bad flag and the value given, with exit code 2", async () => {
  const node = [
    "--allow-read",
    "--allow-write",
    "--allow-net=127.0.0.1",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
  ];
  // Flags are checked before the config is read: none of these gets that far.
  const cases: [string, string[], string[], RegExp][] = [
    [
      "src/mix.ts",
      ["--id", "mix_1", "--config", "/nonexistent.yaml", "--workers", "x"],
      node,
      /--workers: expected a whole number >= 1 and <= 1024, got "x"/,
    ],
    [
      "src/client.ts",
      ["--id", "client_1", "--config", "/nonexistent.yaml", "--log-level", "loud"],
      node,
      /--log-level: expected one of debug, info, warn, error, got "loud"/,
    ],
    [
      "src/cli.ts",
      ["send", "--from", "client_1", "--bogus"],
      CLI_PERMISSIONS,
      /Unknown flag --bogus/,
    ],
    [
      "tasks/network.ts",
      ["--clients", "two"],
      TASK_PERMISSIONS,
      /--clients: expected a whole number >= 1 and <= 10000, got "two"/,
    ],
    [
      "tasks/network.ts",
      ["--round-duration", "0"],
      TASK_PERMISSIONS,
      /--round-duration: expected a number >= 0\.01 and <= 3600, got "0"/,
    ],
    [
      "tasks/bench.ts",
      ["--repeat", "x"],
      TASK_PERMISSIONS,
      /--repeat: expected a whole number >= 1 and <= 1000, got "x"/,
    ],
    [
      "tasks/bench.ts",
      ["--sizes", "10,lots"],
      TASK_PERMISSIONS,
      /--sizes: expected a comma-separated list of whole numbers >= 1 and <= \d+, got "10,lots"/,
    ],
    ["tasks/keygen.ts", ["--force=yes"], TASK_PERMISSIONS, /--force: takes no value/],
    ["tasks/demo.ts", ["--clients", "3"], TASK_PERMISSIONS, /Unknown flag --clients/],
    ["tasks/compile.ts", ["--out", "x"], TASK_PERMISSIONS, /Unknown flag --out/],
  ];
  const results = await Promise.all(
    cases.map(([script, args, permissions]) => run(script, args, permissions)),
  );
  for (const [i, [script, args, , pattern]] of cases.entries()) {
    const { code, stderr } = results[i];
    assert.equal(code, 2, `${script} ${args.join(" ")}: ${stderr}`);
    assert.match(stderr, pattern, `${script} ${args.join(" ")}`);
  }
});

Deno.test("a listen failure names its real cause: an address this process may not use, or another host's", async () => {
  const configPath = await deriveConfig("config/config.yaml", { clients: 2 });
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  try {
    const document = parse(await Deno.readTextFile(configPath));
    const port = document.mix_servers[0].address.split(":")[1];
    for (const host of ["localhost", "10.1.2.3"]) {
      document.mix_servers[0].address = `${host}:${port}`;
      await Deno.writeTextFile(configPath, stringify(document));
      // The network task checks every address before it starts a node.
      const task = await run("tasks/network.ts", ["--config", configPath]);
      assert.equal(task.code, 1, task.stdout);
      assert.match(
        task.stderr,
        new RegExp(
          `mix_1 cannot listen on ${host}:${port}: this process may not listen on ${host}: its --allow-net does not grant it`,
        ),
      );
      assert.doesNotMatch(task.stderr, /already in use/);
    }
    // A mix started on its own is granted the addresses its config names: one of another host
    // is refused by the system, and the mix says so rather than crash.
    const mix = new NodeProcess("mix", "mix_1", configPath);
    assert.equal((await mix.status).code, 1, mix.tail());
    assert.match(
      mix.tail(),
      new RegExp(
        `Cannot listen on 10\\.1\\.2\\.3:${port}: 10\\.1\\.2\\.3 is not an address of this host`,
      ),
    );
    // With every net permission: an address of no interface here, a host that does not resolve.
    const probe = await new Deno.Command("deno", {
      args: [
        "eval",
        `import { listenFailure } from "${new URL("../../src/rpc/listen.ts", import.meta.url)}";` +
        `console.log(JSON.stringify(["10.1.2.3:${port}", "nosuchhost.invalid:${port}"].map(listenFailure)));`,
      ],
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: childEnv(),
    }).output();
    const failures = JSON.parse(new TextDecoder().decode(probe.stdout));
    assert.deepEqual(failures.map((f: { kind: string }) => f.kind), ["not-local", "unresolved"]);
    assert.equal(failures[0].reason, "10.1.2.3 is not an address of this host");
    assert.match(failures[1].reason, /^cannot resolve nosuchhost\.invalid/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
