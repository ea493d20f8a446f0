// Drive an MCP server with the official TypeScript client (@modelcontextprotocol/client 2.x) and
// print one JSON object describing what happened; the Python test asserts on it.
// Usage: node client_smoke.mjs < plan.json
//   plan = {transport: {type: "http", url, token?} | {type: "stdio", command, args, env, cwd},
//           mode: "legacy" | "auto", calls: [{name, arguments}], resources: [uri],
//           prompts: [{name, arguments}], timeoutMs}
// Output: {ok, protocolVersion, server, tools, calls: [{name, isError, text}], resources, prompts}
//      or {ok: false, stage, error: {name, message, status, code}} when something threw.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString());
const timeout = plan.timeoutMs ?? 20000;
const report = { ok: false, mode: plan.mode, transport: plan.transport.type, stage: "connect" };

// Last resort: never hang the test, whatever the server does.
setTimeout(() => finish({ name: "Timeout", message: `no result within ${2 * timeout} ms` }), 2 * timeout).unref();

function transportFor(target) {
  if (target.type === "stdio") {
    const { command, args, env, cwd } = target;
    return new StdioClientTransport({ command, args, env, cwd, stderr: "ignore" });
  }
  const options = target.token ? { authProvider: { token: async () => target.token } } : {};
  return new StreamableHTTPClientTransport(new URL(target.url), options);
}

function describe(error) {
  return {
    name: error?.constructor?.name ?? typeof error,
    message: String(error?.message ?? error).slice(0, 500),
    status: error?.status ?? error?.data?.status ?? null,
    code: error?.code ?? null,
  };
}

function firstText(content) {
  const block = (content ?? []).find((item) => item.type === "text");
  return block ? block.text.slice(0, 300) : null;
}

let client;
async function finish(error) {
  if (error) report.error = describe(error);
  else report.ok = true;
  process.stdout.write(JSON.stringify(report) + "\n");
  try {
    await client?.close();
  } finally {
    process.exit(0);
  }
}

async function run() {
  const mode = plan.mode === "legacy" ? "legacy" : plan.mode;
  client = new Client({ name: "interop-smoke", version: "1.0.0" }, { versionNegotiation: { mode } });
  await client.connect(transportFor(plan.transport), { timeout });
  report.protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  const info = client.getServerVersion();
  report.server = info ? { name: info.name, version: info.version } : null;

  report.stage = "tools/list";
  const { tools } = await client.listTools({}, { timeout });
  report.tools = tools.map((tool) => tool.name).sort();

  report.calls = [];
  for (const call of plan.calls ?? []) {
    report.stage = `tools/call ${call.name}`;
    const result = await client.callTool({ name: call.name, arguments: call.arguments ?? {} }, { timeout });
    report.calls.push({ name: call.name, isError: result.isError === true, text: firstText(result.content) });
  }

  report.resources = [];
  for (const uri of plan.resources ?? []) {
    report.stage = `resources/read ${uri}`;
    const { contents } = await client.readResource({ uri }, { timeout });
    report.resources.push({ uri, mimeType: contents[0]?.mimeType ?? null, chars: (contents[0]?.text ?? "").length });
  }

  report.prompts = [];
  for (const prompt of plan.prompts ?? []) {
    report.stage = `prompts/get ${prompt.name}`;
    const result = await client.getPrompt({ name: prompt.name, arguments: prompt.arguments ?? {} }, { timeout });
    report.prompts.push({ name: prompt.name, messages: result.messages.length });
  }
  report.stage = "done";
}

run().then(
  () => finish(),
  (error) => finish(error),
);
