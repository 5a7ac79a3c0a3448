// A real third-party MCP client: connects with the chosen pinned SDK,
// lists tools, calls a tool, reads a resource, gets a prompt and prints a
// JSON summary on stdout. Exits 0 on success, 1 (with the error on
// stderr) otherwise.
//
// usage: node client.mjs [flags] SDK KIND TARGET...
//   SDK     sdk-old (@modelcontextprotocol/sdk 1.0.4) | sdk-new (newest pinned 1.x)
//   KIND    stdio | http (Streamable HTTP, sdk-new only) | sse (legacy HTTP+SSE)
//   TARGET  for stdio, the command and its arguments; otherwise the URL
// flags:
//   --tool NAME          tool to call (default echo)
//   --tool-args JSON     its arguments (default {"text":"hello from npm"})
//   --resource URI       resource to read (default: the first one listed)
//   --prompt NAME        prompt to get (default: the first listed one
//                        without required arguments)
//   --prompt-args JSON   its arguments (default {})
//   --ask-tool NAME      also call this tool, which needs input from the
//                        client: the client then declares sampling (and,
//                        on sdk-new, elicitation) and answers such requests
//                        (default: none)
//   --ask-args JSON      its arguments (default {})
import { readFileSync } from "node:fs";

const opts = {
  tool: "echo",
  toolArgs: { text: "hello from npm" },
  resource: "",
  prompt: "",
  promptArgs: {},
  askTool: "",
  askArgs: {},
};
const argv = process.argv.slice(2);
while (argv.length && argv[0].startsWith("--")) {
  const flag = argv.shift();
  const val = argv.shift();
  if (val === undefined) usage(`${flag} needs a value`);
  switch (flag) {
    case "--tool": opts.tool = val; break;
    case "--tool-args": opts.toolArgs = JSON.parse(val); break;
    case "--resource": opts.resource = val; break;
    case "--prompt": opts.prompt = val; break;
    case "--prompt-args": opts.promptArgs = JSON.parse(val); break;
    case "--ask-tool": opts.askTool = val; break;
    case "--ask-args": opts.askArgs = JSON.parse(val); break;
    default: usage(`unknown flag ${flag}`);
  }
}
const [sdk, kind, ...target] = argv;
if (!["sdk-old", "sdk-new"].includes(sdk)) usage(`unknown SDK ${sdk}`);
if (!["stdio", "http", "sse"].includes(kind)) usage(`unknown transport ${kind}`);
if (target.length === 0) usage("missing target");

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs [flags] sdk-old|sdk-new stdio|http|sse TARGET...\n`);
  process.exit(2);
}

const timer = setTimeout(() => {
  process.stderr.write("client.mjs: timed out after 60s\n");
  process.exit(1);
}, 60_000);

// Read the version from the installed package itself (the SDK's exports
// map does not expose package.json).
const sdkVersion = JSON.parse(
  readFileSync(new URL(`./node_modules/${sdk}/package.json`, import.meta.url), "utf8"),
).version;
const { Client } = await import(`${sdk}/client/index.js`);

async function makeTransport() {
  switch (kind) {
    case "stdio": {
      const { StdioClientTransport } = await import(`${sdk}/client/stdio.js`);
      return new StdioClientTransport({ command: target[0], args: target.slice(1) });
    }
    case "sse": {
      // SDK 1.0.4 relies on a global EventSource (absent in node 20) and
      // tells Node users to install the eventsource package.
      if (typeof globalThis.EventSource === "undefined") {
        globalThis.EventSource = (await import("eventsource")).EventSource;
      }
      const { SSEClientTransport } = await import(`${sdk}/client/sse.js`);
      return new SSEClientTransport(new URL(target[0]));
    }
    case "http": {
      if (sdk === "sdk-old") throw new Error("SDK 1.0.4 has no Streamable HTTP client");
      const { StreamableHTTPClientTransport } = await import(`${sdk}/client/streamableHttp.js`);
      return new StreamableHTTPClientTransport(new URL(target[0]));
    }
  }
}

// Record the protocolVersion the client offers and the one the server's
// initialize result carries (which the SDK accepted, or connect would
// have thrown), without touching SDK internals.
const seen = { sent: null, negotiated: null, initId: null };
function tap(transport) {
  const send = transport.send.bind(transport);
  transport.send = (msg, ...rest) => {
    if (msg && msg.method === "initialize") {
      seen.sent = msg.params?.protocolVersion ?? null;
      seen.initId = msg.id;
    }
    return send(msg, ...rest);
  };
  let handler;
  Object.defineProperty(transport, "onmessage", {
    configurable: true,
    enumerable: true,
    get: () => handler && ((msg, ...rest) => {
      if (msg && seen.initId !== null && msg.id === seen.initId && msg.result) {
        seen.negotiated = msg.result.protocolVersion ?? null;
      }
      return handler(msg, ...rest);
    }),
    set: (h) => { handler = h; },
  });
  return transport;
}

function textOf(content) {
  return (content ?? [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");
}

const transport = tap(await makeTransport());
// With --ask-tool the client answers the server's sampling (every SDK) and
// elicitation (sdk-new; 1.0.4 predates it) requests, counted in inputs.
const inputs = { sampling: 0, elicitation: 0 };
const capabilities = {};
const handlers = [];
if (opts.askTool) {
  const types = await import(`${sdk}/types.js`);
  capabilities.sampling = {};
  handlers.push([types.CreateMessageRequestSchema, async (req) => {
    inputs.sampling++;
    const last = req.params.messages.at(-1)?.content;
    return {
      model: `mcpbroker-npm-${sdk}-model`,
      role: "assistant",
      content: { type: "text", text: `${sdk} sampled: ${last?.type === "text" ? last.text : ""}` },
    };
  }]);
  if (types.ElicitRequestSchema) {
    capabilities.elicitation = {};
    handlers.push([types.ElicitRequestSchema, async (req) => {
      inputs.elicitation++;
      const content = {};
      for (const [k, s] of Object.entries(req.params.requestedSchema?.properties ?? {})) {
        content[k] = s.type === "boolean" ? true : s.type === "number" || s.type === "integer" ? 1 : s.default ?? sdk;
      }
      return { action: "accept", content };
    }]);
  }
}
const client = new Client({ name: `mcpbroker-npm-${sdk}`, version: sdkVersion }, { capabilities });
for (const [schema, handler] of handlers) client.setRequestHandler(schema, handler);
try {
  await client.connect(transport);
  const summary = {
    sdk,
    sdkVersion,
    transport: kind,
    sentProtocolVersion: seen.sent,
    protocolVersion: seen.negotiated,
    // The new SDK's HTTP transports keep the negotiated version for the
    // MCP-Protocol-Version header; report it when present.
    transportProtocolVersion: transport.protocolVersion ?? null,
    serverInfo: client.getServerVersion() ?? null,
  };

  const tools = await client.listTools();
  summary.tools = tools.tools.map((t) => t.name);

  const call = await client.callTool({ name: opts.tool, arguments: opts.toolArgs });
  summary.toolCall = { name: opts.tool, isError: call.isError === true, text: textOf(call.content) };
  if (call.isError) throw new Error(`tool ${opts.tool} failed: ${summary.toolCall.text}`);

  if (opts.askTool) {
    const ask = await client.callTool({ name: opts.askTool, arguments: opts.askArgs });
    summary.ask = { name: opts.askTool, isError: ask.isError === true, text: textOf(ask.content) };
    summary.inputs = inputs;
    if (ask.isError) throw new Error(`tool ${opts.askTool} failed: ${summary.ask.text}`);
  }

  const resources = await client.listResources();
  summary.resources = resources.resources.map((r) => r.uri);
  const uri = opts.resource || resources.resources[0]?.uri;
  if (!uri) throw new Error("server lists no resources");
  const read = await client.readResource({ uri });
  summary.resource = {
    uri,
    mimeType: read.contents[0]?.mimeType ?? null,
    text: read.contents.map((c) => c.text ?? "").join("\n"),
    blob: read.contents.some((c) => typeof c.blob === "string"),
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

  if (typeof transport.terminateSession === "function") {
    await transport.terminateSession();
    summary.sessionTerminated = true;
  }
  await client.close();
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(summary) + "\n");
  process.exit(0);
} catch (err) {
  process.stderr.write(`client.mjs: ${err?.stack ?? err}\n`);
  try { await client.close(); } catch {}
  process.exit(1);
}
