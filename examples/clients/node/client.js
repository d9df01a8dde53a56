#!/usr/bin/env node
// Calls guardgen from Node.js with @grpc/grpc-js, loading the .proto files at
// run time (no generated code):
//
// 1. Generate a guardgen.examples.v1.TicketClassification and decode the
//    google.protobuf.Any's bytes with the loaded TicketClassification type.
// 2. Ask for one that the (synthetic) provider's content filter blocks, and
//    read the guardgen.v1.FailureDetail from the status details: the
//    grpc-status-details-bin trailer is a google.rpc.Status whose details are
//    Anys.
//
// GUARDGEN_ADDR names the server (default localhost:50051). PROTO_DIR is
// guardgen's proto/ (default: this repository's). GOOGLEAPIS_DIR holds
// google/rpc/status.proto and error_details.proto (default: Debian's
// golang-github-gogo-googleapis-dev; any googleapis checkout, or npm's
// google-proto-files, works). Exits non-zero when an answer is not as
// expected.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const ADDR = process.env.GUARDGEN_ADDR || 'localhost:50051';
const PROTO_DIR = process.env.PROTO_DIR || path.join(__dirname, '..', '..', '..', 'proto');
const GOOGLEAPIS_DIR = process.env.GOOGLEAPIS_DIR || '/usr/share/gocode/src/github.com/gogo/googleapis';
const INCLUDE_DIRS = [PROTO_DIR, GOOGLEAPIS_DIR];
const FILES = [
  'guardgen/v1/generation.proto',
  'guardgen/examples/v1/examples.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
];
const PROMPT = 'I was charged twice for my subscription this month';
const TARGET = 'guardgen.examples.v1.TicketClassification';

function check(ok, what) {
  if (!ok) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
}

// Parse the .proto files with protobufjs 8. (@grpc/proto-loader's own
// protobufjs 7 cannot parse them: it rejects list-valued message options such
// as `cel: [{...}]` in buf/validate/validate.proto.) google/protobuf/*.proto
// come from protobufjs.
const includeDirs = [...INCLUDE_DIRS, path.dirname(require.resolve('protobufjs/package.json'))];
const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return target;
};
root.loadSync(FILES);

// The service, for grpc-js: proto-loader turns the parsed definitions into a
// package definition.
const definition = protoLoader.fromJSON(root.toJSON(), {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { GenerationService } = grpc.loadPackageDefinition(definition).guardgen.v1;
const Status = root.lookupType('google.rpc.Status');

// unpack decodes an Any ({type_url, value}) with the loaded type it names.
function unpack(any) {
  const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
  const type = root.lookupType(name);
  return { name, message: type.toObject(type.decode(any.value), { enums: String, longs: String, defaults: true }) };
}

function generate(client, request, metadata) {
  return new Promise((resolve, reject) => {
    client.Generate(request, metadata, { deadline: Date.now() + 30000 }, (err, response) =>
      err ? reject(err) : resolve(response));
  });
}

async function main() {
  const client = new GenerationService(ADDR, grpc.credentials.createInsecure());
  const request = { prompt: PROMPT, targetType: TARGET };
  try {
    // 1. A validated message.
    const response = await generate(client, request, new grpc.Metadata());
    check(response.message && response.message.type_url === `type.googleapis.com/${TARGET}`,
      `message type ${response.message && response.message.type_url}, want ${TARGET}`);
    const { message: ticket } = unpack(response.message);
    console.log(`TicketClassification: category=${ticket.category} priority=${ticket.priority} ` +
      `summary=${JSON.stringify(ticket.summary)} (attempts=${response.report.attempts.length}, ` +
      `degraded=${response.degraded})`);
    check(['billing', 'technical', 'account', 'other'].includes(ticket.category), 'category');
    check(ticket.priority >= 1 && ticket.priority <= 5, 'priority in 1..5');
    check(ticket.summary !== '', 'summary set');

    // 2. A classified failure.
    const metadata = new grpc.Metadata();
    metadata.set('x-guardgen-synthetic-faults', 'content_filter');
    let err;
    try {
      await generate(client, request, metadata);
    } catch (e) {
      err = e;
    }
    check(err !== undefined, 'a content-filtered call succeeded');
    const [raw] = err.metadata.get('grpc-status-details-bin');
    check(raw !== undefined, 'no grpc-status-details-bin trailer');
    const status = Status.decode(raw);
    check(status.code === err.code, `status code ${status.code} != ${err.code}`);
    let detail;
    let info;
    for (const any of status.details) {
      const { name, message } = unpack(any);
      if (name === 'guardgen.v1.FailureDetail') detail = message;
      if (name === 'google.rpc.ErrorInfo') info = message;
    }
    check(detail !== undefined, 'no guardgen.v1.FailureDetail in the status details');
    const codeName = Object.keys(grpc.status).find((k) => grpc.status[k] === err.code);
    console.log(`${codeName}: domain=${detail.domain} action=${detail.action} ` +
      `recoverable=${detail.recoverable} reason=${detail.reason} attempts=${detail.attempts} ` +
      `error_info=${info && info.reason}@${info && info.domain}`);
    check(err.code === grpc.status.FAILED_PRECONDITION, `code ${codeName}, want FAILED_PRECONDITION`);
    check(detail.domain === 'FAILURE_DOMAIN_INPUT_CONSTRAINT', 'domain');
    check(detail.action === 'RECOVERY_ACTION_REJECT_AND_FIX', 'action');
    check(detail.recoverable === false, 'recoverable must be false for REJECT_AND_FIX');
    check(detail.attempts === 1, 'a content filter is never retried');
    check(info !== undefined && info.reason === 'CONTENT_FILTER', 'ErrorInfo reason CONTENT_FILTER');
  } finally {
    client.close();
  }
  console.log('node client: ok');
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
