/**
 * The helper thread of {@link ThreadHeaderWork} (header_work.ts): runs its parts of the header
 * work on header copies in shared batch slots, in the order the messages come.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { PacketBatch } from "./batch.ts";
import { RECORD_WORDS } from "./flow_tracker.ts";
import {
  type HeaderWorkOptions,
  LocalHeaderWork,
  RECORDS_FLUSH,
  tableWindow,
  type WindowParts,
} from "./header_work.ts";

type Message =
  | { t: "init"; opts: HeaderWorkOptions; buffers: SharedArrayBuffer[] }
  | { t: "add"; slot: number; from: number; to: number }
  | { t: "release"; slot: number }
  | { t: "window" }
  | { t: "finish" };

let slots: PacketBatch[] = [];
let work: LocalHeaderWork | null = null;

/** Hands the ended flows over: a copy moves to the main thread, the buffer is reused. */
function sendRecords(): void {
  const records = work!.records;
  if (records.length === 0) return;
  const words = records.words.slice(0, records.length * RECORD_WORDS);
  self.postMessage({ t: "records", words, length: records.length }, [words.buffer]);
  records.clear();
}

self.onmessage = (e: MessageEvent<Message>) => {
  const m = e.data;
  try {
    switch (m.t) {
      case "init":
        slots = m.buffers.map((b) => new PacketBatch(m.opts.batchPackets, b));
        work = new LocalHeaderWork(m.opts);
        return;
      case "add":
        work!.add(slots[m.slot]!, m.from, m.to);
        if (work!.records.length >= RECORDS_FLUSH) sendRecords();
        return;
      case "release":
        self.postMessage({ t: "free", slot: m.slot });
        return;
      case "window": {
        const live = work!.closeWindow();
        const parts: WindowParts = {
          tables: live.tables.map(tableWindow),
          sketches: live.sketches,
        };
        work!.clearWindow();
        // The table copies move, not copied again by the message.
        self.postMessage(
          { t: "window", parts },
          parts.tables.map((t) => t.records.buffer as ArrayBuffer),
        );
        return;
      }
      case "finish":
        work!.endFlows();
        sendRecords();
        self.postMessage({ t: "finished", overflow: work!.overflowPackets });
        return;
    }
  } catch (err) {
    self.postMessage({ t: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
