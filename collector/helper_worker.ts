/**
 * The helper thread of {@link ThreadHeaderWork} (header_work.ts): runs the flow tracker and
 * the sketch tasks on header copies in shared batch slots, in the order the messages come.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { PacketBatch } from "./batch.ts";
import { FlowRecords, FlowTracker, type FlowTrackerOptions, RECORD_WORDS } from "./flow_tracker.ts";
import { SketchBank, type SketchSpec } from "./sketch_bank.ts";
import { FlowTable } from "./flow_table.ts";
import type { TaskSpec } from "./engine.ts";
import { RECORDS_FLUSH, tableWindow, type WindowParts } from "./header_work.ts";

interface Init {
  t: "init";
  tasks: TaskSpec[];
  sketches: SketchSpec[];
  flows: Partial<FlowTrackerOptions>;
  batchPackets: number;
  buffers: SharedArrayBuffer[];
}
type Message =
  | Init
  | { t: "add"; slot: number; from: number; to: number }
  | { t: "release"; slot: number }
  | { t: "window" }
  | { t: "finish" };

let slots: PacketBatch[] = [];
let tables: FlowTable[] = [];
let bank: SketchBank | null = null;
let tracker: FlowTracker | null = null;
const records = new FlowRecords(1024);

/** Hands the buffered records over: a copy moves to the main thread, the buffer is reused. */
function sendRecords(): void {
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
        slots = m.buffers.map((b) => new PacketBatch(m.batchPackets, b));
        tables = m.tasks.map((t) => new FlowTable(t.key, t.flowsMax));
        bank = new SketchBank(m.sketches, m.batchPackets);
        tracker = new FlowTracker(records, m.flows);
        return;
      case "add": {
        const batch = slots[m.slot]!;
        for (const t of tables) t.addBatch(batch, m.from, m.to);
        bank!.addRange(batch, m.from, m.to);
        tracker!.addBatch(batch, m.from, m.to);
        if (records.length >= RECORDS_FLUSH) sendRecords();
        return;
      }
      case "release":
        self.postMessage({ t: "free", slot: m.slot });
        return;
      case "window": {
        const parts: WindowParts = { tables: tables.map(tableWindow), sketches: bank!.snapshot() };
        // The record copies move, not copied again by the message.
        self.postMessage(
          { t: "window", parts },
          parts.tables.map((t) => t.records.buffer as ArrayBuffer),
        );
        for (const t of tables) t.clear();
        bank!.clear();
        return;
      }
      case "finish":
        tracker!.sweep(true);
        sendRecords();
        self.postMessage({ t: "finished", overflow: tracker!.overflowPackets });
        return;
    }
  } catch (err) {
    self.postMessage({ t: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
