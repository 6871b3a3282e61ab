import assert from "node:assert/strict";
import {
  decodeHttp,
  fieldText,
  HTTP_REQUEST,
  HTTP_RESPONSE,
  HttpMessage,
} from "../../../collector/decode/http.ts";

function decode(text: string) {
  const b = new TextEncoder().encode(text);
  const m = new HttpMessage();
  const ok = decodeHttp(b, 0, b.length, m);
  const f = (o: number, l: number) => fieldText(b, o, l);
  return ok
    ? {
      kind: m.kind === HTTP_REQUEST ? "request" : m.kind === HTTP_RESPONSE ? "response" : "?",
      method: f(m.methodOff, m.methodLen),
      uri: f(m.uriOff, m.uriLen),
      version: f(m.versionOff, m.versionLen),
      code: m.code,
      host: f(m.hostOff, m.hostLen),
      agent: f(m.agentOff, m.agentLen),
      complete: m.headersComplete,
    }
    : null;
}

Deno.test("decodeHttp(): one line per case", () => {
  const req = (
    method: string,
    uri: string,
    version: string,
    host: string | null,
    agent: string | null,
    complete: boolean,
  ) => ({ kind: "request", method, uri, version, code: 0, host, agent, complete });
  const res = (code: number, version: string, complete = true) => ({
    kind: "response",
    method: null,
    uri: null,
    version,
    code,
    host: null,
    agent: null,
    complete,
  });
  const cases: [string, string, unknown][] = [
    [
      "GET with Host and UA",
      "GET /a?b=c HTTP/1.1\r\nHost: ex.com\r\nUser-Agent: t/1\r\n\r\n",
      req("GET", "/a?b=c", "HTTP/1.1", "ex.com", "t/1", true),
    ],
    [
      "header names in any case, blanks trimmed",
      "POST / HTTP/1.0\r\nhOsT:  ex.com:8080 \r\n\r\n",
      req("POST", "/", "HTTP/1.0", "ex.com:8080", null, true),
    ],
    [
      "bare LF line ends",
      "HEAD /x HTTP/1.1\nHost: h\n\n",
      req("HEAD", "/x", "HTTP/1.1", "h", null, true),
    ],
    [
      "headers cut short: host absent",
      "GET / HTTP/1.1\r\nAccept: */*\r\nHo",
      req("GET", "/", "HTTP/1.1", null, null, false),
    ],
    [
      "SSDP M-SEARCH",
      "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
      req("M-SEARCH", "*", "HTTP/1.1", "239.255.255.250:1900", null, true),
    ],
    ["response", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", res(404, "HTTP/1.1")],
    ["response without reason", "HTTP/1.0 200\r\n\r\n", res(200, "HTTP/1.0")],
    ["start line not finished in the bytes", "GET /long/path HTTP/1", null],
    ["TLS record", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", null],
    ["lower-case method", "get / HTTP/1.1\r\n\r\n", null],
    ["no version", "GET /\r\n\r\n", null],
    [
      "the HTTP/2 preface has a request line's shape (version kept as sent)",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
      req("PRI", "*", "HTTP/2.0", null, null, true),
    ],
    ["status code not three digits", "HTTP/1.1 20 OK\r\n\r\n", null],
    ["body text that mentions HTTP", "<p>see HTTP/1.1 200</p>\r\n", null],
  ];
  for (const [what, text, want] of cases) assert.deepEqual(decode(text), want, what);
});
