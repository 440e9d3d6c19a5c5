/**
 * Three mixes and two clients on five hosts (Linux network namespaces, one address each on a
 * private bridge), set up as independent operators would: each host makes its own keys, exports
 * a descriptor (a mix's with its wire port), and runs the network folder assembled from all
 * descriptors. TLS is on (every address is off loopback), so the nodes call the mixes over the
 * wire protocol on TLS. A message crosses the three mixes over their wire ports, a mix restarts
 * while a message waits for it, and a sixth host that holds the public files but not mix_1's key
 * is refused when it forwards a batch to mix_2, over gRPC and over the wire.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Host, HostNetwork, HostProcess, namespacesUnavailable } from "../_testkit/netns.ts";
import { waitUntil } from "../_testkit/ports.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MIXNET = `${ROOT}bin/mixnet`;
const FORGE = `${ROOT}tests/_testkit/forge_batch.ts`;
/** The deno running this test runs every node too (under npx, npx's own). */
const ENV = { DENO: Deno.execPath() };

const NODES = [
  { name: "mix_1", role: "mix", octet: 1, port: 50051, wirePort: 51051 },
  { name: "mix_2", role: "mix", octet: 2, port: 50052, wirePort: 51052 },
  { name: "mix_3", role: "mix", octet: 3, port: 50053, wirePort: 51053 },
  { name: "client_1", role: "client", octet: 11, port: 50061 },
  { name: "client_2", role: "client", octet: 12, port: 50062 },
] as const;

const unavailable = await namespacesUnavailable();

/** The established TCP connections in `host`'s namespace, as local and peer `address:port`. */
async function connections(host: Host): Promise<{ local: string; peer: string }[]> {
  const run = new HostProcess(host, `${host.name}: ss`, "ss", ["-Htn", "state", "established"]);
  const status = await run.status;
  if (!status.success) throw new Error(`ss on ${host.name}:\n${run.lines.join("\n")}`);
  return run.lines.filter((l) => l.trim()).map((l) => {
    const [, , local, peer] = l.trim().split(/\s+/);
    return { local, peer };
  });
}

/** Runs `bin/mixnet args` on `host` to completion; rejects with its output when it fails. */
async function mixnet(host: Host, args: string[]): Promise<string> {
  const run = new HostProcess(host, `${host.name}: mixnet ${args[0]}`, MIXNET, args, ENV);
  const status = await run.status;
  const output = run.lines.join("\n");
  if (!status.success) throw new Error(`mixnet ${args.join(" ")} on ${host.name}:\n${output}`);
  return output;
}

Deno.test({
  name: `a network of five hosts with TLS and wire ports: a message crosses three mixes over ` +
    `their wire ports, a mix restarts, a forged ForwardBatch is refused over gRPC and the wire` +
    `${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  ignore: unavailable !== undefined,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "mixnet-multihost-" });
    const processes: HostProcess[] = [];
    let network: HostNetwork | undefined;
    try {
      network = await HostNetwork.create();
      const hosts = new Map<string, Host>();
      for (const node of NODES) hosts.set(node.name, await network.add(node.name, node.octet));
      const intruder = await network.add("intruder", 99);

      // Every operator, on its own host: keys, then a public descriptor.
      await Promise.all(NODES.map(async (node) => {
        const host = hosts.get(node.name)!;
        const dir = `${base}/${node.name}`;
        await Deno.mkdir(dir);
        await mixnet(host, ["keygen", "--id", node.name, "--dir", dir]);
        await mixnet(host, [
          "descriptor",
          ...["--id", node.name, "--role", node.role, "--dir", dir],
          ...["--address", `${host.address}:${node.port}`],
          ...["--listen", `0.0.0.0:${node.port}`],
          ...("wirePort" in node ? ["--wire-port", String(node.wirePort)] : []),
          ...["--out", `${base}/${node.name}.descriptor.yaml`],
        ]);
      }));
      // One command assembles the network; every host gets its public files, and only those.
      await Deno.writeTextFile(
        `${base}/settings.yaml`,
        "round_duration: 0.5\nround_timeout: 0.4\n",
      );
      const assembled = await mixnet(intruder, [
        "assemble",
        ...["--out", `${base}/network`, "--settings", `${base}/settings.yaml`],
        ...NODES.map((n) => `${base}/${n.name}.descriptor.yaml`),
      ]);
      assert.match(assembled, /assembled .*: 3 mixes, 2 clients/);
      assert.match(assembled, /mix_2 +10\.77\.0\.2:50052 wire 51052 /);
      for (const node of NODES) {
        for await (const file of Deno.readDir(`${base}/network`)) {
          await Deno.copyFile(`${base}/network/${file.name}`, `${base}/${node.name}/${file.name}`);
        }
        const secrets = [...Deno.readDirSync(`${base}/${node.name}/secret`)].map((f) => f.name);
        assert.deepEqual(secrets.sort(), [
          `${node.name}.crt`,
          `${node.name}.secret`,
          `${node.name}.tls.key`,
        ]);
      }

      const start = (name: string) => {
        const node = NODES.find((n) => n.name === name)!;
        const process = new HostProcess(hosts.get(name)!, name, MIXNET, [
          node.role,
          ...["--id", name, "--config", `${base}/${name}/config.yaml`, "--log-level", "debug"],
        ], ENV);
        processes.push(process);
        return process;
      };
      const mixes = new Map(
        NODES.filter((n) => n.role === "mix").map((n) => [n.name, start(n.name)]),
      );
      await Promise.all(
        NODES.filter((n) => "wirePort" in n).map((n) =>
          mixes.get(n.name)!.waitForLine(new RegExp(` ready .*wire=0\\.0\\.0\\.0:${n.wirePort}`))
        ),
      );
      for (const mix of mixes.values()) await mix.waitForLine(/TLS certificate fingerprint=/);
      const clients = [start("client_1"), start("client_2")];
      await Promise.all(clients.map((c) => c.waitForLine(/ ready /)));

      const send = (from: string, to: string, message: string) =>
        mixnet(hosts.get(from)!, [
          "send",
          ...["--from", from, "--to", to, "--message", message],
          ...["--config", `${base}/${from}/config.yaml`],
        ]);
      const received: Record<string, string[]> = { client_1: [], client_2: [] };
      const arrives = (to: string, message: string) =>
        waitUntil(
          async () => {
            const out = await mixnet(hosts.get(to)!, [
              "poll",
              ...["--client", to, "--config", `${base}/${to}/config.yaml`],
            ]);
            received[to].push(...out.split("\n").filter((l) => l && !l.startsWith("no new")));
            return received[to].includes(message);
          },
          60_000,
          `"${message}" at ${to}`,
          500,
        );

      assert.match(await send("client_1", "client_2", "across three hosts"), /queued for round/);
      await arrives("client_2", "across three hosts");
      // It went over the wire ports: each mix's callers (the clients at mix_1 and mix_3, the
      // previous mix at mix_2 and mix_3) are connected there, and nobody to its gRPC port.
      const callers = { mix_1: [11, 12], mix_2: [1], mix_3: [2, 11, 12] };
      for (const node of NODES) {
        if (!("wirePort" in node)) continue;
        const inbound = await connections(hosts.get(node.name)!);
        const from = (port: number) =>
          inbound.filter((c) => c.local.endsWith(`:${port}`)).map((c) => c.peer.split(":")[0]);
        assert.deepEqual(from(node.port), [], `${node.name}: calls on its gRPC port`);
        assert.deepEqual(
          [...new Set(from(node.wirePort))].sort(),
          callers[node.name].map((octet) => `10.77.0.${octet}`).sort(),
          `${node.name}: callers on its wire port`,
        );
      }

      // mix_2 goes away; a message sent meanwhile waits at mix_1 and arrives once it is back.
      await mixes.get("mix_2")!.stop("SIGTERM");
      await send("client_2", "client_1", "after a restart");
      await mixes.get("mix_1")!.waitForLine(/forward failed, retrying/, 30_000);
      mixes.set("mix_2", start("mix_2"));
      await mixes.get("mix_2")!.waitForLine(/ ready /);
      await arrives("client_1", "after a restart");

      // A host with the public files but not mix_1's TLS key forwards a batch to mix_2, over
      // gRPC (which asks for a certificate in TLS) and over the wire (which asks for proof of
      // one in its handshake).
      const mix2 = `${hosts.get("mix_2")!.address}`;
      const forge = async (show: "none" | "own", transport: "grpc" | "wire") => {
        const run = new HostProcess(intruder, "intruder", Deno.execPath(), [
          "run",
          ...["--allow-read", "--allow-env", `--allow-net=${mix2}:50052,${mix2}:51052`],
          ...[FORGE, `${base}/network/config.yaml`, "mix_2", show, transport],
        ]);
        await run.status;
        const line = run.lines.find((l) => l.startsWith("{"));
        assert.ok(line, run.lines.join("\n"));
        return JSON.parse(line) as { code: number; details: string; fingerprint: string | null };
      };
      for (
        const [transport, shows, method] of [
          ["grpc", "presented", "MixServer.ForwardBatch"],
          ["wire", "proved", "ForwardBatch"],
        ] as const
      ) {
        const anonymous = await forge("none", transport);
        assert.equal(anonymous.code, 16, anonymous.details); // UNAUTHENTICATED
        assert.match(
          anonymous.details,
          new RegExp(
            `^${method} needs the certificate of mix_1 \\(.*\\): the caller at ` +
              `10\\.77\\.0\\.99:\\d+ ${shows} no certificate$`,
          ),
        );
        const forged = await forge("own", transport);
        assert.equal(forged.code, 16, forged.details);
        assert.ok(
          forged.details.endsWith(`${shows} certificate ${forged.fingerprint}`),
          forged.details,
        );
        const warning = await mixes.get("mix_2")!.waitForLine(
          new RegExp(`refused ${method.replace(".", "\\.")} from a caller without mix_1's`),
        );
        assert.match(warning, /peer=10\.77\.0\.99:\d+/);
      }
    } finally {
      for (const process of processes.reverse()) await process.stop("SIGTERM", 10_000);
      await network?.close();
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
    const left = (await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" })
      .output()).stdout;
    assert.doesNotMatch(new TextDecoder().decode(left), new RegExp(`mxnt${Deno.pid}-`));
  },
});
