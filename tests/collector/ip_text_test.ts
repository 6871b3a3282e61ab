import assert from "node:assert/strict";
import { ipv4Text, ipv6Text, parseIp } from "../../collector/packet/ip_text.ts";

Deno.test("parseIp() reads what the report writes, and refuses the rest", () => {
  const ok: [string, 4 | 6, number[]][] = [
    ["10.0.0.1", 4, [0x0a000001, 0, 0, 0]],
    ["255.255.255.255", 4, [0xffffffff, 0, 0, 0]],
    ["::", 6, [0, 0, 0, 0]],
    ["::1", 6, [0, 0, 0, 1]],
    ["2001:db8::c612:f83e", 6, [0x20010db8, 0, 0, 0xc612f83e]],
    ["fe80::1:2", 6, [0xfe800000, 0, 0, 0x00010002]],
    ["::ffff:198.51.100.7", 6, [0, 0, 0xffff, 0xc6336407]],
    ["1:2:3:4:5:6:7:8", 6, [0x00010002, 0x00030004, 0x00050006, 0x00070008]],
    ["2001:DB8::A", 6, [0x20010db8, 0, 0, 10]],
  ];
  for (const [text, family, words] of ok) {
    const got = parseIp(text);
    assert.ok(got !== null, text);
    assert.equal(got[0], family, text);
    assert.deepEqual([...got[1]], words, text);
    const back = family === 4 ? ipv4Text(got[1][0]!) : ipv6Text(got[1]);
    assert.equal(back, text.toLowerCase(), "round trip");
  }
  const bad = [
    "",
    "10.0.0",
    "10.0.0.256",
    "1::2::3",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "g::1",
    "1:2:3:4:5:6:7::8",
    "10.0.0.1/24",
    "::1.2.3",
  ];
  for (const text of bad) assert.equal(parseIp(text), null, text);
});
