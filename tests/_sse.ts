/**
 * Test helper: a Server-Sent Events reader (the event stream format of the HTML standard:
 * blocks separated by a blank line, `id:`, `event:`, `data:` fields, `:` comments).
 *
 * @module
 */

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Reads SSE events from `body` until `stop` says so or the stream ends. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  stop: (events: SseEvent[]) => boolean,
): Promise<SseEvent[]> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buf = "";
  while (!stop(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const e: SseEvent = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [k, ...v] = line.split(": ");
        if (k === "id") e.id = v.join(": ");
        else if (k === "event") e.event = v.join(": ");
        else if (k === "data") e.data += v.join(": ");
      }
      if (block.replace(/^:.*$/gm, "").trim() !== "") events.push(e);
    }
  }
  await reader.cancel();
  return events;
}
