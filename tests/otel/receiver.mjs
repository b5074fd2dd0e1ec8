// SPDX-License-Identifier: MIT
// A test OTLP/HTTP receiver on 127.0.0.1: decodes every POST /v1/traces
// strictly (otlp_strict.mjs) and records the spans.
//   node receiver.mjs [--mode ok|refuse|slow] [--delay-ms N]
// Prints "listening PORT" once ready. GET /spans: every decoded request's
// spans as a JSON array; GET /errors: decode errors; GET /count: the
// number of spans. refuse answers 503, slow answers after --delay-ms
// (default 5000). It exits when stdin closes (the test ends).
import http from 'node:http';
import { decodeStrict, spansOf } from './otlp_strict.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const mode = opt('--mode', 'ok');
const delay = Number(opt('--delay-ms', '5000'));
const spans = [], errors = [], headers = [];

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    const body = req.url === '/spans' ? spans : req.url === '/errors' ? errors
      : req.url === '/headers' ? headers : { count: spans.length };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const answer = () => {
      if (mode === 'refuse') { res.writeHead(503); res.end(); return; }
      try {
        if (req.url !== '/v1/traces') throw new Error(`POST to ${req.url}`);
        if (!/^application\/json/.test(req.headers['content-type'] ?? ''))
          throw new Error(`content-type ${req.headers['content-type']}`);
        headers.push(req.headers);
        for (const s of spansOf(decodeStrict(Buffer.concat(chunks).toString('utf8')))) spans.push(s);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } catch (e) {
        errors.push(String(e.message ?? e));
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(e.message ?? e) }));
      }
    };
    if (mode === 'slow') setTimeout(answer, delay); else answer();
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
