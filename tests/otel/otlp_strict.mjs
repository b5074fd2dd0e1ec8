// SPDX-License-Identifier: MIT
// Strict decoding of an OTLP/JSON ExportTraceServiceRequest with the
// official OpenTelemetry protobuf definitions shipped by
// @opentelemetry/otlp-transformer 0.216.0 (its generated root, which later
// versions no longer ship): every field must be known, of the right type,
// ids must be lower-case hex of the right length, enums integers; the
// message must survive a protobuf encode/decode round trip unchanged.
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const Long = require('protobufjs/minimal').util.Long;

// The protobuf JSON mapping writes 64-bit integers as decimal strings (or
// numbers); protobufjs's verify wants Long objects for them.
const INT64 = { startTimeUnixNano: true, endTimeUnixNano: true, timeUnixNano: true,
  intValue: false };
function longs(x, path) {
  if (Array.isArray(x)) { x.forEach((v, i) => longs(v, `${path}[${i}]`)); return; }
  if (x === null || typeof x !== 'object') return;
  for (const [k, v] of Object.entries(x)) {
    if (k in INT64 && typeof v === 'string') {
      if (!/^-?[0-9]+$/.test(v)) throw new Error(`${path}.${k}: not a decimal integer: ${v}`);
      x[k] = Long.fromString(v, INT64[k]);
    } else longs(v, `${path}.${k}`);
  }
}

function hexToB64(where, h, bytes, optional) {
  if (optional && (h === undefined || h === '')) return h;
  if (typeof h !== 'string' || h.length !== bytes * 2 || !/^[0-9a-f]+$/.test(h))
    throw new Error(`${where}: expected ${bytes * 2} lower-case hex digits, got ${JSON.stringify(h)}`);
  if (/^0+$/.test(h)) throw new Error(`${where}: all-zero id is invalid`);
  return Buffer.from(h, 'hex').toString('base64');
}

// Keys of `input` that the schema does not know: `known` is the same
// message turned back into an object with every default filled in.
function unknownKeys(input, known, path, out) {
  if (Array.isArray(input)) {
    input.forEach((v, i) => unknownKeys(v, known?.[i], `${path}[${i}]`, out));
    return out;
  }
  if (input === null || typeof input !== 'object' || Long.isLong(input)) return out;
  for (const k of Object.keys(input)) {
    if (known === null || typeof known !== 'object' || !(k in known)) out.push(`${path}.${k}`);
    else unknownKeys(input[k], known[k], `${path}.${k}`, out);
  }
  return out;
}

export function decodeStrict(text) {
  const obj = JSON.parse(text);
  const conv = structuredClone(obj);
  (conv.resourceSpans ?? []).forEach((rs, i) => (rs.scopeSpans ?? []).forEach((ss, j) =>
    (ss.spans ?? []).forEach((s, k) => {
      const w = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
      s.traceId = hexToB64(`${w}.traceId`, s.traceId, 16);
      s.spanId = hexToB64(`${w}.spanId`, s.spanId, 8);
      s.parentSpanId = hexToB64(`${w}.parentSpanId`, s.parentSpanId, 8, true);
      if (s.parentSpanId === undefined) delete s.parentSpanId;
      for (const [n, l] of (s.links ?? []).entries()) {
        l.traceId = hexToB64(`${w}.links[${n}].traceId`, l.traceId, 16);
        l.spanId = hexToB64(`${w}.links[${n}].spanId`, l.spanId, 8);
      }
    })));
  longs(conv, '$');
  const err = Req.verify(conv);
  if (err) throw new Error(`ExportTraceServiceRequest.verify: ${err}`);
  const msg = Req.fromObject(conv);
  const opts = { longs: String, enums: Number, bytes: String, defaults: true, arrays: true };
  const unknown = unknownKeys(conv, Req.toObject(msg, opts), '$', []);
  if (unknown.length) throw new Error(`unknown fields: ${unknown.join(', ')}`);
  const back = Req.decode(Req.encode(msg).finish());
  if (!isDeepStrictEqual(Req.toObject(back, opts), Req.toObject(msg, opts)))
    throw new Error('protobuf round trip changed the message');
  return obj;
}

// The spans of a request, flattened, with their resource and scope.
export function spansOf(req) {
  const out = [];
  for (const rs of req.resourceSpans ?? [])
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? []) out.push({ resource: rs.resource, scope: ss.scope, span: s });
  return out;
}
