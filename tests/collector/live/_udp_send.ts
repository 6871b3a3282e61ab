/**
 * Sends UDP datagrams for the live-capture tests (run inside a network namespace the test made):
 *   deno run -A _udp_send.ts ADDRESS PORT COUNT SIZE
 * Payload sizes cycle from SIZE to SIZE + 9; prints the bytes of payload sent.
 */

import dgram from "node:dgram";

const [address, portText, countText, sizeText] = Deno.args;
const port = Number(portText), count = Number(countText), size = Number(sizeText);
if (!(count > 0 && count <= 100_000 && port > 0 && port < 65536 && size >= 0 && size <= 1400)) {
  throw new Error("usage: _udp_send.ts ADDRESS PORT COUNT(1..100000) SIZE(0..1400)");
}
const sock = dgram.createSocket("udp4");
let bytes = 0;
for (let i = 0; i < count; i++) {
  const payload = new Uint8Array(size + (i % 10));
  bytes += payload.length;
  await new Promise<void>((ok, no) => sock.send(payload, port, address, (e) => e ? no(e) : ok()));
}
sock.close();
console.log(bytes);
