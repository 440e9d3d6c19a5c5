import assert from "node:assert/strict";
import { join } from "node:path";
import { MixnetError } from "../../src/errors.ts";
import { type InboxRow, InboxWriter } from "../../src/mix/inbox_writer.ts";
import { MixStore } from "../../src/mix/mod.ts";

/** A real store that records each group it is asked to write, and fails the first `failures`. */
class RecordingStore extends MixStore {
  readonly groups: number[] = [];
  failures = 0;
  override addAllToInbox(rows: readonly InboxRow[]): boolean[] {
    this.groups.push(rows.length);
    if (this.failures-- > 0) {
      throw new MixnetError("Cannot write mix_1.sqlite: database or disk is full", {
        status: "resource-exhausted",
      });
    }
    return super.addAllToInbox(rows);
  }
}

const row = (round: number, slot: string): InboxRow => ({
  round,
  slot,
  packet: new TextEncoder().encode(`${slot} in round ${round}`),
  arrivedMs: Date.now(),
});

async function withStore(fn: (store: RecordingStore) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-inbox-" });
  const store = new RecordingStore(join(dir, "mix_1.sqlite"), "key");
  try {
    await fn(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("packets added in one turn are stored in one transaction, each acknowledged once on disk", async () => {
  await withStore(async (store) => {
    const writer = new InboxWriter(store);
    const slots = Array.from({ length: 100 }, (_, i) => `client_${i}`);
    const stored = await Promise.all(slots.map((slot) => writer.add(row(7, slot))));
    assert.deepEqual(stored, slots.map(() => true));
    assert.deepEqual(store.groups, [100]);
    assert.equal(store.inboxCount(7), 100);
    // A client's slot is taken once: a second packet in a later group is refused, in another
    // round it is not.
    const again = await Promise.all([
      writer.add(row(7, "client_3")),
      writer.add(row(8, "client_3")),
    ]);
    assert.deepEqual(again, [false, true]);
    assert.deepEqual(store.groups, [100, 2]);
  });
});

Deno.test("flush stores what is pending at once, so a closing round holds every packet it acknowledged", async () => {
  await withStore(async (store) => {
    const writer = new InboxWriter(store);
    const pending = [writer.add(row(3, "client_1")), writer.add(row(3, "client_2"))];
    writer.flush();
    assert.equal(store.inboxCount(3), 2);
    assert.deepEqual(await Promise.all(pending), [true, true]);
    writer.flush();
    assert.deepEqual(store.groups, [2]);
  });
});

Deno.test("a group the store cannot write is refused to every waiter with the store's error, and the next group is stored", async () => {
  await withStore(async (store) => {
    const writer = new InboxWriter(store);
    store.failures = 1;
    const refused = await Promise.allSettled([
      writer.add(row(5, "client_1")),
      writer.add(row(5, "client_2")),
    ]);
    for (const outcome of refused) {
      assert.equal(outcome.status, "rejected");
      assert.match(String(outcome.reason), /Cannot write mix_1\.sqlite: database or disk is full/);
    }
    assert.equal(store.inboxCount(5), 0);
    assert.deepEqual(await writer.add(row(5, "client_1")), true);
    assert.equal(store.inboxCount(5), 1);
  });
});

Deno.test("each group written is handed over per round, within flush, without the packets refused as duplicates", async () => {
  await withStore(async (store) => {
    const handed: [number, string[]][] = [];
    const writer = new InboxWriter(store, (round, rows) => {
      handed.push([round, rows.map((r) => r.slot)]);
    });
    await writer.add(row(4, "client_1"));
    const pending = [
      writer.add(row(4, "client_1")),
      writer.add(row(4, "client_2")),
      writer.add(row(5, "client_1")),
    ];
    writer.flush();
    // Handed over before any waiter runs: a round closing right after the flush has them all.
    assert.deepEqual(handed, [[4, ["client_1"]], [4, ["client_2"]], [5, ["client_1"]]]);
    assert.deepEqual(await Promise.all(pending), [false, true, true]);
  });
});
