/**
 * The helper thread of {@link ThreadHeaderWork} (header_work.ts): runs its parts of the header
 * work on header copies in shared batch slots, in the order the messages come.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { PacketBatch } from "../packet/mod.ts";
import { type HeaderWorkOptions, LocalHeaderWork, partBuffers } from "./header_work.ts";

type Message =
  | { t: "init"; opts: HeaderWorkOptions; buffers: SharedArrayBuffer[] }
  | { t: "add"; slot: number; from: number; to: number; win: number }
  | { t: "release"; slot: number }
  | { t: "advance"; sec: number }
  | { t: "window"; win: number; endFlows: boolean; withRecords: boolean };

let slots: PacketBatch[] = [];
let work: LocalHeaderWork | null = null;
/** Time spent on messages (the rest is waiting for them), reported with each window. */
let busyMs = 0;

self.onmessage = (e: MessageEvent<Message>) => {
  const m = e.data;
  const t0 = performance.now();
  try {
    switch (m.t) {
      case "init":
        slots = m.buffers.map((b) => new PacketBatch(m.opts.batchPackets, b));
        work = new LocalHeaderWork(m.opts);
        return;
      case "add":
        work!.add(slots[m.slot]!, m.from, m.to, m.win);
        return;
      case "release":
        self.postMessage({ t: "free", slot: m.slot });
        return;
      case "advance":
        work!.advance(m.sec);
        return;
      case "window": {
        // The columns are made here, on this thread, and move (not copied) to the engine.
        const parts = work!.closeWindow(m.win, m.endFlows, m.withRecords);
        busyMs += performance.now() - t0;
        self.postMessage({ t: "window", parts, busyMs }, partBuffers(parts));
        return;
      }
    }
  } catch (err) {
    self.postMessage({ t: "error", message: err instanceof Error ? err.message : String(err) });
  } finally {
    if (m.t !== "window") busyMs += performance.now() - t0;
  }
};
