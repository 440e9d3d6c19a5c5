/**
 * TLS for test networks: every node's key and certificate made up front (a node started in
 * this process would otherwise wait for a peer that starts after it), and channels as a user
 * of the network dials them, pinned to the published certificates.
 */
import type { Config, NodeConfig } from "../../src/config/mod.ts";
import { certificatePath, ensureTlsIdentity, parseCertificate } from "../../src/crypto/mod.ts";
import { type grpc, pinnedChannel, type PinnedPeer, pinnedWireDialer } from "../../src/rpc/mod.ts";
import type { WireDialer } from "../../src/wire/mod.ts";

/** Makes and publishes the TLS key and certificate of every node when some link uses TLS. */
export async function ensureTlsIdentities(config: Config): Promise<void> {
  const nodes = [...config.mixServers, ...config.clients];
  if (!nodes.some((n) => n.tls)) return;
  for (const node of nodes) {
    await ensureTlsIdentity({ configDir: config.dir, keysDir: config.keysDir }, node.id);
  }
}

/** Credentials of a channel to `node` as an outsider holding no certificate dials it. */
export function testChannel(config: Config, node: NodeConfig): grpc.ChannelCredentials | undefined {
  return node.tls ? pinnedChannel(pinOf(config, node)) : undefined;
}

/** How an outsider dials `node`'s wire port: TLS pinned to its certificate where it has TLS. */
export function testWireDialer(config: Config, node: NodeConfig): WireDialer | undefined {
  return node.tls ? pinnedWireDialer(pinOf(config, node)) : undefined;
}

/** `node` pinned to its published certificate. */
function pinOf(config: Config, node: NodeConfig): PinnedPeer {
  const path = certificatePath(config.dir, node.id);
  const certificate = parseCertificate(Deno.readTextFileSync(path), path);
  return { id: node.id, address: node.address, certificate };
}
