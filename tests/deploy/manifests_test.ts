/**
 * The container image, the compose file and the Kubernetes manifests, checked against the
 * configs they run: commands, ports, variables and volumes. (CI has no container engine or
 * cluster; docs/deploy.md says what was run by hand.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { type Config, loadConfig, type NodeConfig, splitAddress } from "../../src/config/mod.ts";
import { createSealedBox, generateTlsIdentity } from "../../src/crypto/mod.ts";
import { assembleNetwork, describe } from "../../tasks/_descriptor.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => Deno.readTextFileSync(`${ROOT}${path}`);

// deno-lint-ignore no-explicit-any
type Yaml = any;

/** SHA-256 of the original design's config/config.yaml (jonco5555/Mixnet). */
const ORIGINAL_CONFIG_SHA256 = "c89e5be74912b7e78d5869e5838d8ad1a2f9bad551790571cdbb32b664f84e4e";

function nodes(config: Config): (NodeConfig & { role: "mix" | "client" })[] {
  return [
    ...config.mixServers.map((n) => ({ ...n, role: "mix" as const })),
    ...config.clients.map((n) => ({ ...n, role: "client" as const })),
  ];
}

/** The commands bin/mixnet accepts as its first word. */
function entryCommands(): Set<string> {
  const script = read("bin/mixnet");
  const cases = [...script.matchAll(/^ {2}([a-z| -]+)\)$/gm)].flatMap((m) =>
    m[1].split("|").map((s) => s.trim())
  );
  return new Set(cases);
}

Deno.test("the image installs the CI's Deno from the npm registry, caches every role and enters through bin/mixnet", () => {
  const dockerfile = read("Dockerfile");
  const ciVersion = /deno@(\d+\.\d+\.\d+)/.exec(read(".ci/run"))![1];
  assert.match(dockerfile, new RegExp(`ARG DENO_VERSION=${ciVersion.replaceAll(".", "\\.")}\\n`));
  assert.match(dockerfile, /npm install [^\n]*"deno@\$\{DENO_VERSION\}"/);
  assert.match(dockerfile, /^ENTRYPOINT \["\/app\/bin\/mixnet"\]$/m);
  for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) {
    assert.ok(Deno.statSync(`${ROOT}${source}`), source);
  }
  const cached = /deno install --frozen --entrypoint ([^&]+)&&/s.exec(dockerfile)![1]
    .split(/[\s\\]+/).filter(Boolean);
  for (const file of cached) assert.ok(Deno.statSync(`${ROOT}${file}`).isFile, file);
  for (const script of ["src/mix.ts", "src/client.ts", "src/cli.ts", "tasks/permissions.ts"]) {
    assert.ok(cached.includes(script), `${script} is not cached in the image`);
  }
  assert.ok(read(".dockerignore").split("\n").every((l) => !/^(src|bin|tasks|protos)$/.test(l)));
});

Deno.test("the compose file runs the original design's config, unchanged, one service per node", async () => {
  const text = read("deploy/compose/config/config.yaml");
  assert.equal(createHash("sha256").update(text).digest("hex"), ORIGINAL_CONFIG_SHA256);
  const config = await loadConfig(`${ROOT}deploy/compose/config/config.yaml`);
  const compose: Yaml = parse(read("deploy/compose/compose.yaml"), { merge: true });
  const commands = entryCommands();
  const services = compose.services as Record<string, Yaml>;
  assert.deepEqual(Object.keys(services).sort(), nodes(config).map((n) => n.id).sort());
  for (const node of nodes(config)) {
    const service = services[node.id];
    // Peers reach the node by the host of its address: the container's name on the network.
    assert.equal(service.container_name, splitAddress(node.address).host);
    assert.deepEqual(service.networks, ["mixnet"]);
    assert.equal(service.image, "mixnet:latest");
    const [command] = service.command;
    assert.ok(commands.has(command), `bin/mixnet does not accept ${command}`);
    assert.equal(command, node.role === "mix" ? "server" : "client");
    const env = service.environment;
    assert.equal(env[node.role === "mix" ? "SERVER_ID" : "CLIENT_ID"], node.id);
    const mounts = new Map<string, string>(
      service.volumes.map((v: string) => v.split(":").reverse() as [string, string]),
    );
    assert.equal(
      mounts.get(env.CONFIG_PATH.slice(0, env.CONFIG_PATH.lastIndexOf("/"))),
      "./config",
    );
    // The ports it serves, a mix's wire port included where the config gives one.
    assert.deepEqual(
      service.expose.map(String),
      [node.listen, ...(node.wire ? [node.wire.listen] : [])].map((a) =>
        String(splitAddress(a).port)
      ),
      `${node.id}: expose`,
    );
    if (node.role === "mix") assert.equal(mounts.get(env.OUTPUT_DIR), "./output");
    else assert.deepEqual(service.depends_on, config.mixServers.map((m) => m.id));
  }
  const built = Object.values(services).filter((s) => s.build);
  assert.equal(built.length, 1);
  assert.equal(built[0].build.context, "../..");
  assert.ok(Deno.statSync(`${ROOT}${built[0].build.dockerfile}`).isFile);
  assert.ok(config.mixServers.every((m) => m.tls), "TLS is on off loopback");
});

/** The Kubernetes objects of deploy/k8s, by kind and name. */
function k8sObjects(): Map<string, Yaml> {
  const objects = new Map<string, Yaml>();
  for (const file of ["namespace.yaml", "services.yaml", "mixes.yaml", "clients.yaml"]) {
    for (const doc of parseAllDocuments(read(`deploy/k8s/${file}`), { version: "1.1" })) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.join("; ")}`);
      const object = doc.toJS();
      if (object) objects.set(`${object.kind}/${object.metadata.name}`, object);
    }
  }
  return objects;
}

Deno.test("every node of the Kubernetes config has a StatefulSet, a Service and a Secret that match it", async () => {
  const config = await loadConfig(`${ROOT}deploy/k8s/network/config.yaml`);
  const objects = k8sObjects();
  const kustomization: Yaml = parse(read("deploy/k8s/kustomization.yaml"));
  const resources = new Set(kustomization.resources);
  for (const file of resources) assert.ok(Deno.statSync(`${ROOT}deploy/k8s/${file}`).isFile);
  const generatedMap = kustomization.configMapGenerator.find((g: Yaml) =>
    g.name === "mixnet-network"
  );
  const commands = entryCommands();
  for (const node of nodes(config)) {
    const address = splitAddress(node.address);
    const listen = splitAddress(node.listen);
    assert.equal(listen.host, "0.0.0.0", `${node.id} binds the pod's addresses`);

    const service = objects.get(`Service/${address.host}`);
    assert.ok(service, `no Service named ${address.host} for ${node.id}`);
    const servicePort = (name: string) => service.spec.ports.find((p: Yaml) => p.name === name);
    assert.equal(servicePort("grpc")?.port, address.port);

    const set = objects.get(`StatefulSet/${node.id}`);
    assert.ok(set, `no StatefulSet for ${node.id}`);
    const pod = set.spec.template;
    assert.deepEqual(set.spec.selector.matchLabels, { "mixnet/node": node.id });
    assert.equal(pod.metadata.labels["mixnet/node"], node.id);
    assert.deepEqual(service.spec.selector, { "mixnet/node": node.id });
    assert.equal(set.spec.replicas, 1, "one process per node id");

    const container = pod.spec.containers[0];
    assert.deepEqual(container.args, [node.role, "--id", node.id]);
    assert.ok(commands.has(container.args[0]));
    const containerPort = (name: string) =>
      container.ports.find((p: Yaml) => p.name === servicePort(name)?.targetPort)?.containerPort;
    assert.equal(
      containerPort("grpc"),
      listen.port,
      `${node.id}: Service target is its listen port`,
    );
    // A mix's wire port: on the Service at its address's host, and on the pod where it binds.
    assert.deepEqual(
      [servicePort("wire")?.port, containerPort("wire")],
      node.wire
        ? [splitAddress(node.wire.address).port, splitAddress(node.wire.listen).port]
        : [undefined, undefined],
      `${node.id}: the wire port of the Service and the pod`,
    );
    assert.deepEqual(
      service.spec.ports.map((p: Yaml) => p.name).sort(),
      node.wire ? ["grpc", "wire"] : ["grpc"],
    );

    const mounts = new Map<string, string>(
      container.volumeMounts.map((m: Yaml) => [m.name, m.mountPath]),
    );
    const volumes = new Map<string, Yaml>(pod.spec.volumes.map((v: Yaml) => [v.name, v]));
    const configPath = container.env.find((e: Yaml) => e.name === "CONFIG_PATH").value;
    assert.equal(configPath, `${mounts.get("config")}/config.yaml`);
    assert.equal(`${mounts.get("config")}/config.yaml`.length > 0, true);
    assert.equal(volumes.get("config").configMap.name, "mixnet-network");
    assert.equal(mounts.get("keys"), config.keysDir);
    assert.equal(mounts.get("data"), config.dataDir);
    assert.ok(set.spec.volumeClaimTemplates.some((t: Yaml) => t.metadata.name === "data"));
    assert.equal(volumes.get("keys").emptyDir.medium, "Memory");

    const secretName = volumes.get("keys-src").secret.secretName;
    const secret = kustomization.secretGenerator.find((g: Yaml) => g.name === secretName);
    assert.deepEqual(secret?.files.map((f: string) => f.split("/").pop()).sort(), [
      `${node.id}.crt`,
      `${node.id}.secret`,
      `${node.id}.tls.key`,
    ]);
    const init = pod.spec.initContainers[0];
    const initMounts = new Map(init.volumeMounts.map((m: Yaml) => [m.name, m.mountPath]));
    assert.equal(initMounts.get("keys"), config.keysDir);
    assert.match(
      init.command.join(" "),
      new RegExp(`install -m 0600 ${initMounts.get("keys-src")}/\\* ${config.keysDir}/`),
    );
    for (const file of [`${node.id}.key`, `${node.id}.crt`]) {
      assert.ok(generatedMap.files.includes(`network/${file}`), `${file} is not in the ConfigMap`);
    }
  }
  assert.ok(generatedMap.files.includes("network/config.yaml"));
  assert.equal(
    [...objects.keys()].filter((k) => k.startsWith("StatefulSet/")).length,
    nodes(config).length,
  );
  assert.ok(config.mixServers.every((m) => m.wire), "every mix serves the wire protocol");
});

Deno.test("the Kubernetes config is what assemble writes from the nodes' descriptors and settings", async () => {
  const committed = await loadConfig(`${ROOT}deploy/k8s/network/config.yaml`);
  const box = await createSealedBox("tweetnacl");
  const descriptors = await Promise.all(
    nodes(committed).map(async (node) =>
      describe(
        {
          id: node.id,
          role: node.role,
          address: node.address,
          listen: node.listen,
          wirePort: node.wire ? splitAddress(node.wire.address).port : undefined,
        },
        box.generateKeyPair().publicKey,
        (await generateTlsIdentity(node.id)).certificate.pem,
      )
    ),
  );
  const dir = await Deno.makeTempDir();
  try {
    const settings = parse(read("deploy/k8s/network/settings.yaml"));
    await assembleNetwork(descriptors, settings, dir);
    assert.equal(
      await Deno.readTextFile(`${dir}/config.yaml`),
      read("deploy/k8s/network/config.yaml"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
