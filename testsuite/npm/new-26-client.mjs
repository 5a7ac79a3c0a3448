// A real 2026-07-28 MCP client: @modelcontextprotocol/client 2.4.0 over
// Streamable HTTP. Connects (negotiating the revision as asked), lists
// tools, calls a tool, calls a tool that needs input from the client
// (sampling and/or elicitation, answered by the handlers below: in-band
// input_required rounds on 2026-07-28, server-to-client requests on a
// 2025-era connection), reads a resource, gets a prompt and prints a JSON
// summary on stdout. Exits 0 on success, 1 (with the error on stderr)
// otherwise.
//
// usage: node new-26-client.mjs [flags] URL
// flags:
//   --negotiation MODE   legacy (plain 2025 initialize, the SDK's default),
//                        auto (server/discover probe, fallback to
//                        initialize) or pin (2026-07-28 or fail); default auto
//   --tool NAME          tool to call (default echo)
//   --tool-args JSON     its arguments (default {"text":"hello from npm"})
//   --ask-tool NAME      tool that needs client input (default ask; "" skips)
//   --ask-args JSON      its arguments (default {"question":"what is MCP?"})
//   --resource URI       resource to read (default: the first one listed)
//   --prompt NAME        prompt to get (default: the first listed one
//                        without required arguments)
//   --prompt-args JSON   its arguments (default {})
//
// The summary's firstContact is the first HTTP request the SDK sent (method,
// the MCP headers, the JSON body), wire the method and MCP headers of every
// request, in order.
import { readFileSync } from "node:fs";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const opts = {
  negotiation: "auto",
  tool: "echo",
  toolArgs: { text: "hello from npm" },
  askTool: "ask",
  askArgs: { question: "what is MCP?" },
  resource: "",
  prompt: "",
  promptArgs: {},
};
const argv = process.argv.slice(2);
while (argv.length && argv[0].startsWith("--")) {
  const flag = argv.shift();
  const val = argv.shift();
  if (val === undefined) usage(`${flag} needs a value`);
  switch (flag) {
    case "--negotiation": opts.negotiation = val; break;
    case "--tool": opts.tool = val; break;
    case "--tool-args": opts.toolArgs = JSON.parse(val); break;
    case "--ask-tool": opts.askTool = val; break;
    case "--ask-args": opts.askArgs = JSON.parse(val); break;
    case "--resource": opts.resource = val; break;
    case "--prompt": opts.prompt = val; break;
    case "--prompt-args": opts.promptArgs = JSON.parse(val); break;
    default: usage(`unknown flag ${flag}`);
  }
}
if (argv.length !== 1) usage("want exactly one URL");
const url = new URL(argv[0]);
const negotiation = {
  legacy: undefined,
  auto: { mode: "auto" },
  pin: { mode: { pin: "2026-07-28" } },
}[opts.negotiation];
if (negotiation === undefined && opts.negotiation !== "legacy") usage(`unknown negotiation ${opts.negotiation}`);

function usage(msg) {
  process.stderr.write(`new-26-client.mjs: ${msg}\nusage: node new-26-client.mjs [flags] URL\n`);
  process.exit(2);
}

const timer = setTimeout(() => {
  process.stderr.write("new-26-client.mjs: timed out after 60s\n");
  process.exit(1);
}, 60_000);

const sdkVersion = JSON.parse(
  readFileSync(new URL("./node_modules/@modelcontextprotocol/client/package.json", import.meta.url), "utf8"),
).version;

// Record what goes on the wire through the transport's fetch option.
const MCP_HEADERS = ["mcp-protocol-version", "mcp-method", "mcp-name", "mcp-session-id"];
const wire = [];
async function recordingFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  const entry = { httpMethod: init.method ?? "GET", headers: {} };
  for (const h of MCP_HEADERS) {
    if (headers.has(h)) entry.headers[h] = headers.get(h);
  }
  if (typeof init.body === "string") {
    try { entry.body = JSON.parse(init.body); } catch { entry.body = init.body; }
  }
  wire.push(entry);
  const res = await fetch(input, init);
  entry.status = res.status;
  return res;
}

// Answers to the server's requests for input, counted.
const inputs = { sampling: 0, elicitation: 0 };
const client = new Client(
  { name: "mcpbroker-npm-26-client", version: sdkVersion },
  { capabilities: { sampling: {}, elicitation: {} }, versionNegotiation: negotiation },
);
client.setRequestHandler("sampling/createMessage", async (req) => {
  inputs.sampling++;
  const last = req.params.messages.at(-1)?.content;
  const asked = last?.type === "text" ? last.text : "";
  return {
    model: "npm-26-client-model",
    role: "assistant",
    content: { type: "text", text: `npm-26-client sampled: ${asked}` },
  };
});
client.setRequestHandler("elicitation/create", async (req) => {
  inputs.elicitation++;
  // Accept, filling every requested boolean with true and every other
  // property with a string or number default.
  const content = {};
  for (const [k, s] of Object.entries(req.params.requestedSchema?.properties ?? {})) {
    content[k] = s.type === "boolean" ? true : s.type === "number" || s.type === "integer" ? 1 : s.default ?? "npm-26-client";
  }
  return { action: "accept", content };
});

function textOf(content) {
  return (content ?? [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");
}

const transport = new StreamableHTTPClientTransport(url, { fetch: recordingFetch });
const summary = { sdk: "@modelcontextprotocol/client", sdkVersion, negotiation: opts.negotiation };
try {
  await client.connect(transport);
  summary.era = client.getProtocolEra() ?? null;
  summary.protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  summary.serverInfo = client.getServerVersion() ?? null;

  const tools = await client.listTools();
  summary.tools = tools.tools.map((t) => t.name);

  const call = await client.callTool({ name: opts.tool, arguments: opts.toolArgs });
  summary.toolCall = { name: opts.tool, isError: call.isError === true, text: textOf(call.content) };
  if (call.isError) throw new Error(`tool ${opts.tool} failed: ${summary.toolCall.text}`);

  if (opts.askTool) {
    const ask = await client.callTool({ name: opts.askTool, arguments: opts.askArgs });
    summary.ask = { name: opts.askTool, isError: ask.isError === true, text: textOf(ask.content) };
    if (ask.isError) throw new Error(`tool ${opts.askTool} failed: ${summary.ask.text}`);
  }
  summary.inputs = inputs;

  const resources = await client.listResources();
  summary.resources = resources.resources.map((r) => r.uri);
  const uri = opts.resource || resources.resources[0]?.uri;
  if (!uri) throw new Error("server lists no resources");
  const read = await client.readResource({ uri });
  summary.resource = {
    uri,
    mimeType: read.contents[0]?.mimeType ?? null,
    text: read.contents.map((c) => c.text ?? "").join("\n"),
  };

  const prompts = await client.listPrompts();
  summary.prompts = prompts.prompts.map((p) => p.name);
  const promptName = opts.prompt || prompts.prompts.find((p) => !(p.arguments ?? []).some((a) => a.required))?.name;
  if (!promptName) throw new Error("server lists no prompt without required arguments");
  const prompt = await client.getPrompt({ name: promptName, arguments: opts.promptArgs });
  summary.prompt = {
    name: promptName,
    messages: prompt.messages.length,
    text: prompt.messages.map((m) => (m.content?.type === "text" ? m.content.text : "")).join("\n"),
  };

  await client.close();
  clearTimeout(timer);
  summary.firstContact = wire[0] ?? null;
  summary.wire = wire.map(({ httpMethod, headers, body, status }) => ({
    httpMethod,
    method: body?.method ?? null,
    headers,
    status: status ?? null,
  }));
  process.stdout.write(JSON.stringify(summary) + "\n");
  process.exit(0);
} catch (err) {
  process.stderr.write(`new-26-client.mjs: ${err?.code ? `[${err.code}] ` : ""}${err?.stack ?? err}\n`);
  process.stderr.write(`new-26-client.mjs: wire so far: ${JSON.stringify(wire)}\n`);
  try { await client.close(); } catch {}
  process.exit(1);
}
