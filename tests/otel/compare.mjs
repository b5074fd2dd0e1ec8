// SPDX-License-Identifier: MIT
// Compare cuprum's spans with those the official OpenTelemetry JS SDK
// produces for the same operation.
//   node compare.mjs FILE   (an OTLP JSON lines file written by cuprum)
// Each cuprum span is replayed through @opentelemetry/sdk-trace-base with
// the same ids, parent, name, kind, times, attributes, events and status;
// the SDK's spans are serialized by @opentelemetry/otlp-transformer and
// both sides are decoded strictly and compared field by field. Exit 0 when
// equal, else print the differences and exit 1.
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { decodeStrict, spansOf } from './otlp_strict.mjs';

const ours = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean)
  .flatMap((line) => spansOf(decodeStrict(line)));
if (!ours.length) { console.error('no spans in', process.argv[2]); process.exit(1); }

const value = (v) => 'stringValue' in v ? v.stringValue : 'boolValue' in v ? v.boolValue
  : 'intValue' in v ? Number(v.intValue) : 'doubleValue' in v ? v.doubleValue
  : v.arrayValue.values.map(value);
const attrs = (list) => Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));
const hr = (ns) => { const n = BigInt(ns); return [Number(n / 1000000000n), Number(n % 1000000000n)]; };
const ownIds = new Set(ours.map((o) => o.span.spanId));

let failures = 0;
for (const { span: s, scope } of ours) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    idGenerator: { generateTraceId: () => s.traceId, generateSpanId: () => s.spanId },
  });
  const tracer = provider.getTracer(scope.name, scope.version);
  let ctx = ROOT_CONTEXT;
  if (s.parentSpanId) // our own parents are local; anything else came from TRACEPARENT
    ctx = trace.setSpanContext(ctx, { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: 1,
      isRemote: !ownIds.has(s.parentSpanId) });
  const sdk = tracer.startSpan(s.name, { kind: s.kind - 1, startTime: hr(s.startTimeUnixNano),
    attributes: attrs(s.attributes) }, ctx);
  for (const e of s.events ?? []) sdk.addEvent(e.name, attrs(e.attributes), hr(e.timeUnixNano));
  if (s.status?.code) sdk.setStatus({ code: s.status.code, message: s.status.message });
  sdk.end(hr(s.endTimeUnixNano));
  const theirs = spansOf(decodeStrict(new TextDecoder().decode(
    JsonTraceSerializer.serializeRequest(exporter.getFinishedSpans()))))[0].span;
  // The SDK cannot record drops it did not make; events we capped are ours.
  const norm = (x) => {
    const y = structuredClone(x);
    for (const a of [...(y.attributes ?? []), ...(y.events ?? []).flatMap((e) => e.attributes ?? [])])
      if ('intValue' in a.value) a.value.intValue = String(a.value.intValue);
      // A JS number does not keep 0.0 apart from 0, so the SDK sends a
      // whole double (a CPU time of 0 s) as intValue: compare as such.
      else if ('doubleValue' in a.value && Number.isInteger(a.value.doubleValue))
        a.value = { intValue: String(a.value.doubleValue) };
    for (const e of y.events ?? []) e.droppedAttributesCount ??= 0;
    if (y.status && y.status.message === undefined) delete y.status.message;
    y.droppedEventsCount = 0;
    return y;
  };
  const a = norm(s), b = norm(theirs);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (!isDeepStrictEqual(a[k], b[k])) {
      failures++;
      console.error(`span ${s.name} ${s.spanId}: ${k}: cuprum ${JSON.stringify(a[k])} vs SDK ${JSON.stringify(b[k])}`);
    }
  }
}
console.log(`${ours.length} spans compared, ${failures} differences`);
process.exit(failures ? 1 : 0);
