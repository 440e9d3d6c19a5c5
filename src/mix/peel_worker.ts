/**
 * A peeling worker: holds the mix key and removes one layer from each packet it is sent, off
 * the main thread so the gRPC event loop keeps answering.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { createSealedBox, type KeyPair, type SealedBox } from "../crypto/mod.ts";
import { errorMessage } from "../errors.ts";
import { buildOnion, PayloadKind } from "../onion/mod.ts";
import {
  type CoverJob,
  packResults,
  type PeelJob,
  peelPackets,
  type PeelReply,
  type PeelSetup,
  unpackPackets,
} from "./peeler.ts";

let box: SealedBox | undefined;
let key: KeyPair;
let expected: { payloadSize: number; layers: number };
let ready: Promise<void> | undefined;

self.onmessage = async (event: MessageEvent<PeelSetup | PeelJob | CoverJob>) => {
  const message = event.data;
  if (message.type === "setup") {
    key = { publicKey: message.publicKey, secretKey: message.secretKey };
    expected = { payloadSize: message.payloadSize, layers: message.layers };
    // The first reply says whether the backend loaded, so the pool fails instead of waiting.
    ready = (async () => {
      try {
        box = await createSealedBox(message.backend);
        self.postMessage({ id: -1 } satisfies PeelReply);
      } catch (error) {
        self.postMessage(
          { id: -1, setupError: errorMessage(error) } satisfies PeelReply,
        );
      }
    })();
    return;
  }
  await ready;
  if (message.type === "cover") {
    const packets = Array.from({ length: message.count }, () =>
      buildOnion(box!, {
        message: new Uint8Array(),
        kind: PayloadKind.dummy,
        recipient: null,
        route: message.route,
        payloadSize: expected.payloadSize,
      }));
    const reply: PeelReply = { id: message.id, packets };
    self.postMessage(reply, packets.map((p) => p.buffer as ArrayBuffer));
    return;
  }
  const results = packResults(peelPackets(box!, unpackPackets(message.packets), key, expected));
  const reply: PeelReply = { id: message.id, results };
  self.postMessage(reply, [results.inner.bytes.buffer]);
};
