import assert from "node:assert/strict";
import { join } from "node:path";
import { BackgroundCheckpoint, openDatabase } from "../src/sqlite.ts";
import { waitUntil } from "./_testkit/ports.ts";

Deno.test("with a check point worker a large commit leaves the log as it is; the worker copies it after", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-sqlite-" });
  const path = join(dir, "mix.sqlite");
  const db = openDatabase(path, "CREATE TABLE IF NOT EXISTS t (b BLOB)");
  const checkpoint = new BackgroundCheckpoint(db);
  try {
    const insert = db.prepare("INSERT INTO t (b) VALUES (?)");
    db.exec("BEGIN");
    for (let i = 0; i < 72; i++) insert.run(new Uint8Array(2 ** 20).fill(i));
    db.exec("COMMIT");
    // 72 MiB committed, past the 64 MiB at which a commit without a worker copies the log
    // itself: all of it still in the log.
    assert.ok(Deno.statSync(path).size < 2 ** 20, "no check point inside the commit");
    assert.ok(Deno.statSync(`${path}-wal`).size >= 72 * 2 ** 20);
    checkpoint.written();
    await waitUntil(() => Deno.statSync(path).size >= 72 * 2 ** 20, 10_000, "the check point");
    assert.equal(db.prepare("SELECT count(*) AS n FROM t").get()!.n, 72);
  } finally {
    await checkpoint.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
