// Runs AWS SDK for JavaScript v3 calls against the emulator for tests/emulator/test_js_sdk.py.
// Input (stdin, JSON): {endpoint, region, steps: [{service: "sts"|"ec2", op, input, creds: {...} | {fromStep: i}}]}
// Output (stdout, JSON): one result per step: {ok, output} or {ok: false, error: {name, message, requestId,
// attempts, clockSkewCorrected}}, plus the raw last response of each step (status, x-amzn-requestid, body).
// The SDK is found through NODE_PATH (the test fixture installs it into a cache directory).
"use strict";
const { Readable } = require("node:stream");
const { NodeHttpHandler } = require("@smithy/node-http-handler");
const sts = require("@aws-sdk/client-sts");
const ec2 = require("@aws-sdk/client-ec2");
const { fromTemporaryCredentials } = require("@aws-sdk/credential-providers");

class RecordingHandler {
  constructor() { this.inner = new NodeHttpHandler(); this.responses = []; }
  async handle(request, options) {
    const { response } = await this.inner.handle(request, options);
    const chunks = [];
    for await (const chunk of response.body) chunks.push(Buffer.from(chunk));
    const body = Buffer.concat(chunks);
    response.body = Readable.from([body]);
    this.responses.push({ status: response.statusCode, requestId: response.headers["x-amzn-requestid"] || null,
                          date: response.headers["date"] || null, body: body.toString("utf8") });
    return { response };
  }
  updateHttpClientConfig(key, value) { this.inner.updateHttpClientConfig(key, value); }
  httpHandlerConfigs() { return this.inner.httpHandlerConfigs(); }
  destroy() { this.inner.destroy(); }
}

function plain(value) {
  return JSON.parse(JSON.stringify(value, (k, v) => (k === "$metadata" ? undefined : v)));
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const results = [];
  for (const step of job.steps) {
    const creds = step.creds.temporary !== undefined
      ? fromTemporaryCredentials({  // the SDK's own AssumeRole provider, MFA code included
          masterCredentials: step.creds.temporary.master,
          params: step.creds.temporary.params,
          mfaCodeProvider: async () => step.creds.temporary.mfaCode,
          clientConfig: { endpoint: job.endpoint, region: job.region },
        })
      : step.creds.fromStep !== undefined
      ? (() => { const c = results[step.creds.fromStep].output.Credentials;
                 return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }; })()
      : step.creds;
    const handler = new RecordingHandler();
    const config = { endpoint: job.endpoint, region: job.region, credentials: creds, requestHandler: handler,
                     maxAttempts: step.maxAttempts || 3 };
    const module = step.service === "ec2" ? ec2 : sts;
    const Client = step.service === "ec2" ? module.EC2Client : module.STSClient;
    const client = new Client(config);
    const Command = module[step.op + "Command"];
    try {
      const output = await client.send(new Command(step.input || {}));
      results.push({ ok: true, output: plain(output), metadata: output.$metadata, responses: handler.responses });
    } catch (error) {
      results.push({ ok: false, error: { name: error.name, message: error.message,
                                         requestId: error.$metadata && error.$metadata.requestId,
                                         attempts: error.$metadata && error.$metadata.attempts,
                                         clockSkewCorrected: error.$metadata && error.$metadata.clockSkewCorrected },
                     responses: handler.responses });
    }
    client.destroy();
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(2); });
