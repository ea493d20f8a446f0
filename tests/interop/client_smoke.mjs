// Drive an MCP server with the official TypeScript client (@modelcontextprotocol/client 2.x) and
// print one JSON object describing what happened; the Python test asserts on it.
// Usage: node client_smoke.mjs < plan.json
//   plan = {transport: {type: "http", url, token?} | {type: "stdio", command, args, env, cwd},
//           mode: "legacy" | "auto", calls: [{name, arguments, progress?}], resources: [uri],
//           prompts: [{name, arguments}], timeoutMs,
//           capabilities?, answers?: {elicitation?: ElicitResult, sampling?: "reply text"},
//           subscribe?: {uri, trigger: {name, arguments}}}
// Output: {ok, protocolVersion, server, tools, calls: [{name, isError, text, structured, progress}], resources,
//          prompts, asked: [{method, message}], subscription?: {heard, updates}}
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
  client = new Client(
    { name: "interop-smoke", version: "1.0.0" },
    { capabilities: plan.capabilities ?? {}, versionNegotiation: { mode } },
  );
  // What the server asks mid-call: over the legacy back channel, or (2026-07-28) as input-required
  // results the client fulfils through these same handlers and retries with.
  report.asked = [];
  const answers = plan.answers ?? {};
  if (answers.elicitation) {
    client.setRequestHandler("elicitation/create", async (request) => {
      report.asked.push({ method: "elicitation/create", message: String(request.params?.message ?? "").slice(0, 300) });
      return answers.elicitation;
    });
  }
  if (answers.sampling !== undefined) {
    client.setRequestHandler("sampling/createMessage", async (request) => {
      const first = request.params?.messages?.[0]?.content;
      report.asked.push({ method: "sampling/createMessage", message: String(first?.text ?? "").slice(0, 300) });
      return { model: "interop-model", role: "assistant", content: { type: "text", text: answers.sampling } };
    });
  }
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
    const progress = [];
    const options = call.progress ? { timeout, onprogress: (update) => progress.push(update.progress) } : { timeout };
    const result = await client.callTool({ name: call.name, arguments: call.arguments ?? {} }, options);
    report.calls.push({
      name: call.name,
      isError: result.isError === true,
      text: firstText(result.content),
      structured: result.structuredContent ?? null,
      progress,
    });
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
  if (plan.subscribe) await subscribeAndTrigger(plan.subscribe);
  report.stage = "done";
}

// Subscribe to one resource (a listen stream in 2026-07-28, resources/subscribe before), call the
// tool that changes it, and wait (bounded) for notifications/resources/updated.
async function subscribeAndTrigger({ uri, trigger }) {
  report.stage = `subscribe ${uri}`;
  const updates = [];
  let heard;
  const arrived = new Promise((resolve) => {
    heard = resolve;
  });
  client.setNotificationHandler("notifications/resources/updated", (notification) => {
    updates.push(notification.params.uri);
    if (notification.params.uri === uri) heard(true);
  });
  let subscription = null;
  if (report.protocolVersion === "2026-07-28") {
    subscription = await client.listen({ resourceSubscriptions: [uri] }, { timeout });
  } else {
    await client.subscribeResource({ uri }, { timeout });
  }
  report.stage = `tools/call ${trigger.name} (subscribed)`;
  const result = await client.callTool({ name: trigger.name, arguments: trigger.arguments ?? {} }, { timeout });
  const late = new Promise((resolve) => setTimeout(() => resolve(false), 5000).unref());
  report.subscription = { heard: await Promise.race([arrived, late]), updates, triggerError: result.isError === true };
  await subscription?.close();
}

run().then(
  () => finish(),
  (error) => finish(error),
);
