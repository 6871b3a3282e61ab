/**
 * `GET /api/v1/live`: the live stream as Server-Sent Events (R-21).
 *
 * Events: `hello` (window length, the newest commit), `window` (each window part as it is
 * committed: identity, totals, accounting, protocol mix and top talkers; `id:` is its commit
 * number), `tick` (the open window's rates, about once a second), `status` (a device up or
 * down, drops rising) and `reset` (the stream cannot be continued: reload from the API).
 * A client that reconnects with `Last-Event-ID` first gets the windows committed since, from
 * the store, then live ones — none twice, none missed; if retention has removed some of them
 * it gets `reset`. Every client has a bounded queue: a tick not yet sent is replaced by the
 * next; a client whose queue still fills is sent `reset` and closed, and that is counted. The
 * hub reads the store once per commit for every client; capture never waits for a client.
 *
 * @module
 */

import type { Store } from "../storage/mod.ts";
import type { CollectorStatus } from "../collector/ingest/mod.ts";
import { commitRange, type QueryContext, windowEvents } from "../query/mod.ts";

/** Events a client may have waiting before it is reset. */
export const CLIENT_QUEUE_MAX = 256;
/** Clients at once; more get 429. */
export const LIVE_CLIENTS_MAX = 64;
export const KEEPALIVE_MS = 15_000;
export const TICK_MS = 1000;
/** Windows read from the store per query (live or catching up). */
const BATCH_WINDOWS = 100;

/** What /metrics says of the stream. */
export interface LiveCounters {
  clients: number;
  windowEvents: number;
  ticksReplaced: number;
  resets: number;
}

const encoder = new TextEncoder();

function frame(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${
    JSON.stringify(data)
  }\n\n`;
}

class Client {
  readonly queue: string[] = [];
  tick: string | null = null;
  closed = false;
  /** Newest window sent or queued; live windows at or below it were sent by the catch-up. */
  seq = 0;
  /** True while windows from the store are being sent; live ones wait in `held`. */
  catchingUp = true;
  readonly held: { seq: number; text: string }[] = [];
  private wake: (() => void) | null = null;
  private room: (() => void) | null = null;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(private readonly hub: LiveHub) {
    this.stream = new ReadableStream<Uint8Array>({
      pull: (c) => this.pull(c),
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  private async pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.queue.length === 0 && this.tick === null && !this.closed) {
      await new Promise<void>((r) => this.wake = r);
    }
    if (this.queue.length === 0 && this.tick === null) {
      c.close();
      return;
    }
    let text = this.queue.splice(0).join("");
    if (this.tick !== null) text += this.tick, this.tick = null;
    this.room?.();
    c.enqueue(encoder.encode(text));
    if (this.closing) this.close(), c.close();
  }

  private closing = false;
  private giveUp: ReturnType<typeof setTimeout> | undefined;

  send(text: string): void {
    if (this.closed || this.closing) return;
    if (this.queue.length >= CLIENT_QUEUE_MAX) {
      // Too slow to keep up: tell it once, then let it go (its reconnect resumes or resets).
      this.queue.length = 0;
      this.tick = null;
      this.queue.push(frame("reset", { reason: "the client did not keep up with the stream" }));
      this.closing = true;
      this.hub.counters.resets++;
      // A client that reads nothing at all is not waited for.
      this.giveUp = setTimeout(() => this.close(), 5000);
    } else this.queue.push(text);
    this.wake?.();
  }

  sendTick(text: string): void {
    if (this.closed || this.closing) return;
    if (this.tick !== null) this.hub.counters.ticksReplaced++;
    this.tick = text;
    this.wake?.();
  }

  /** Resolves when the queue has room for a catch-up batch (or the client went). */
  async hasRoom(): Promise<void> {
    while (!this.closed && this.queue.length > CLIENT_QUEUE_MAX / 2) {
      await new Promise<void>((r) => this.room = r);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.giveUp);
    this.hub.drop(this);
    this.wake?.();
    this.room?.();
  }
}

export class LiveHub {
  readonly counters: LiveCounters = { clients: 0, windowEvents: 0, ticksReplaced: 0, resets: 0 };
  private readonly clients = new Set<Client>();
  /** Newest commit read from the store and sent to every live client. */
  private seq = 0;
  private reading: Promise<void> | null = null;
  private again = false;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly onCommit = () => void this.readNew();
  private last = { packets: 0, bytes: 0, received: 0, dropped: 0, atMs: Date.now() };
  private states = "";

  constructor(
    private readonly store: Store,
    private readonly status: CollectorStatus | null,
    private readonly log: (e: unknown) => void,
  ) {}

  async start(): Promise<void> {
    this.seq = (await this.ask((ctx) => commitRange(ctx))).newest;
    this.store.onCommit.add(this.onCommit);
    this.timers.push(setInterval(() => this.keepalive(), KEEPALIVE_MS));
    if (this.status !== null) this.timers.push(setInterval(() => this.sendTicks(), TICK_MS));
  }

  /** Sends what was committed last, then ends every client's stream (after what it holds). */
  async stop(): Promise<void> {
    this.store.onCommit.delete(this.onCommit);
    for (const t of this.timers) clearInterval(t);
    await this.readNew();
    for (const c of [...this.clients]) c.close();
  }

  get full(): boolean {
    return this.clients.size >= LIVE_CLIENTS_MAX;
  }

  drop(c: Client): void {
    if (this.clients.delete(c)) this.counters.clients = this.clients.size;
  }

  /** A new client: hello, the windows after `lastSeq` (if given) from the store, then live. */
  connect(lastSeq: number | null): ReadableStream<Uint8Array> {
    const c = new Client(this);
    this.clients.add(c);
    this.counters.clients = this.clients.size;
    const upto = this.seq;
    c.seq = lastSeq ?? upto;
    c.send(frame("hello", {
      window_sec: this.status?.windowSec ?? null,
      last_seq: upto,
      resumed_from: lastSeq,
    }));
    this.catchUp(c, lastSeq, upto).catch((e) => {
      this.log(e);
      c.send(frame("reset", { reason: "the missed windows could not be read" }));
      c.close();
    });
    return c.stream;
  }

  private async catchUp(c: Client, lastSeq: number | null, upto: number): Promise<void> {
    if (lastSeq !== null) {
      const { oldest } = await this.ask((ctx) => commitRange(ctx));
      if (lastSeq > upto || (oldest > 0 && lastSeq + 1 < oldest)) {
        // Windows after it are gone (retention) or it is not from this store.
        c.send(frame("reset", { reason: "the windows after that event are no longer stored" }));
        c.seq = upto;
      } else {
        while (c.seq < upto && !c.closed) {
          await c.hasRoom();
          const events = await this.ask((ctx) => windowEvents(ctx, c.seq, upto, BATCH_WINDOWS));
          if (events.length === 0) break;
          for (const e of events) c.send(frame("window", e, e.seq)), c.seq = e.seq;
        }
        c.seq = Math.max(c.seq, upto);
      }
    }
    c.catchingUp = false;
    for (const h of c.held.splice(0)) if (h.seq > c.seq) c.send(h.text), c.seq = h.seq;
  }

  /** Reads what was committed since the last read and sends it to every client, in order. */
  private readNew(): Promise<void> {
    if (this.reading !== null) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        if (this.clients.size === 0) {
          // Nobody listens: only where the stream is (a client that comes later and wants
          // older windows reads them from the store).
          const newest = (await this.ask((ctx) => commitRange(ctx))).newest;
          // One came meanwhile: it starts at the old place, so read the windows for it.
          if (this.clients.size === 0) this.seq = newest;
          else this.again = true;
          continue;
        }
        for (;;) {
          const events = await this.ask((ctx) =>
            windowEvents(ctx, this.seq, Number.MAX_SAFE_INTEGER, BATCH_WINDOWS)
          );
          for (const e of events) {
            const text = frame("window", e, e.seq);
            this.counters.windowEvents++;
            for (const c of this.clients) {
              if (c.catchingUp) c.held.push({ seq: e.seq, text });
              else if (e.seq > c.seq) c.send(text), c.seq = e.seq;
            }
            this.seq = e.seq;
          }
          if (events.length < BATCH_WINDOWS) break;
        }
      } while (this.again);
    })().catch((e) => this.log(e)).finally(() => this.reading = null);
    return this.reading;
  }

  private async ask<T>(fn: (ctx: QueryContext) => Promise<T>): Promise<T> {
    const con = await this.store.readerConnection();
    try {
      return await fn({ con, timeoutMs: 30_000 });
    } finally {
      con.closeSync();
    }
  }

  private keepalive(): void {
    for (const c of this.clients) c.send(": keepalive\n\n");
  }

  /** The open window's rates from the devices' counters; `status` when states or drops change. */
  private sendTicks(): void {
    const s = this.status!;
    const now = Date.now();
    let packets = 0, bytes = 0, received = 0, dropped = 0, flows = 0;
    const devices = [...s.devices.values()];
    for (const d of devices) {
      packets += d.packets, bytes += d.bytes, flows += d.flowsActive;
      received += d.capture.received, dropped += d.capture.dropped + d.capture.ifDropped;
    }
    const dt = Math.max(1e-3, (now - this.last.atMs) / 1000);
    const rate = (v: number, was: number) => Math.max(0, Math.round((v - was) / dt));
    const tick = frame("tick", {
      time: new Date(now).toISOString(),
      window_start: new Date(Math.floor(now / 1000 / s.windowSec) * s.windowSec * 1000)
        .toISOString(),
      packets_per_sec: rate(packets, this.last.packets),
      bytes_per_sec: rate(bytes, this.last.bytes),
      received_per_sec: rate(received, this.last.received),
      dropped_per_sec: rate(dropped, this.last.dropped),
      flows_active: flows,
      packets,
      dropped,
    });
    const states = devices.map((d) => `${d.device}:${d.state}`).join(",");
    if (states !== this.states || dropped > this.last.dropped) {
      this.states = states;
      const text = frame("status", {
        devices: devices.map((d) => ({
          device: d.device,
          state: d.state,
          error: d.error,
          dropped: d.capture.dropped,
        })),
        drops_rising: dropped > this.last.dropped,
      });
      for (const c of this.clients) c.send(text);
    }
    this.last = { packets, bytes, received, dropped, atMs: now };
    for (const c of this.clients) c.sendTick(tick);
  }
}
