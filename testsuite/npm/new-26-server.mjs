// MCP server built with @modelcontextprotocol/server 2.4.0 (speaks
// 2026-07-28, with the SDK's own fallback for 2025-era clients), served
// over Streamable HTTP (createMcpHandler) or stdio (serveStdio).
//
// usage: node new-26-server.mjs [--port N]   HTTP on 127.0.0.1:N/mcp (N from
//                                           --port, else $PORT, else 0 = any
//                                           free port); prints
//                                           "npm-26-server listening on URL"
//                                           on stderr once it listens
//        node new-26-server.mjs --stdio      stdio
//
// Tools: echo {text} -> "npm-26-server echo: TEXT"; ask {question, needs}
// answers with input_required (multi round-trip, 2026-07-28): one round
// asks the client for a sampling/createMessage and/or a form elicitation
// (needs: sampling, elicitation or both, the default), with an opaque
// requestState the client must echo back, and the retried call returns
// "sampled: ANSWER; elicited: ACTION ok=BOOL". Resource
// npm26://static/readme; prompt greet {name}.
import http from "node:http";
import {
  McpServer,
  createMcpHandler,
  fromJsonSchema,
  inputRequired,
  inputResponse,
} from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";

const NAME = "npm-26-server";
const VERSION = "2.4.0";
const README = "mcpbroker npm interop: 2026-07-28 readme";
const ASK_STATE = "npm-26-ask-round-1";

function buildServer() {
  const server = new McpServer(
    { name: NAME, version: VERSION },
    { capabilities: { tools: {}, resources: {}, prompts: {} } },
  );

  server.registerTool(
    "echo",
    {
      description: "Echo the text back",
      inputSchema: fromJsonSchema({
        type: "object",
        properties: { text: { type: "string" } },
        required: ["text"],
      }),
    },
    async ({ text }) => ({ content: [{ type: "text", text: `${NAME} echo: ${text}` }] }),
  );

  server.registerTool(
    "ask",
    {
      description: "Ask the client's model (sampling) and/or its user (elicitation) about a question",
      inputSchema: fromJsonSchema({
        type: "object",
        properties: {
          question: { type: "string" },
          needs: { type: "string", enum: ["sampling", "elicitation", "both"] },
        },
        required: ["question"],
      }),
    },
    async ({ question, needs = "both" }, ctx) => {
      const wantSample = needs !== "elicitation";
      const wantConfirm = needs !== "sampling";
      const responses = ctx.mcpReq.inputResponses;
      const sample = inputResponse(responses, "sample");
      const confirm = inputResponse(responses, "confirm");
      const missing = {};
      if (wantSample && sample.kind !== "sampling") {
        missing.sample = inputRequired.createMessage({
          messages: [{ role: "user", content: { type: "text", text: question } }],
          maxTokens: 50,
        });
      }
      if (wantConfirm && confirm.kind !== "elicit") {
        missing.confirm = inputRequired.elicit({
          message: `May ${NAME} answer "${question}"?`,
          requestedSchema: {
            type: "object",
            properties: { ok: { type: "boolean" } },
            required: ["ok"],
          },
        });
      }
      if (Object.keys(missing).length > 0) {
        return inputRequired({ inputRequests: missing, requestState: ASK_STATE });
      }
      const state = ctx.mcpReq.requestState();
      if (state !== ASK_STATE) {
        return { isError: true, content: [{ type: "text", text: `requestState ${JSON.stringify(state)} not echoed` }] };
      }
      const parts = [];
      if (wantSample) {
        const c = sample.result.content;
        parts.push(`sampled: ${c?.type === "text" ? c.text : JSON.stringify(c)}`);
      }
      if (wantConfirm) {
        parts.push(`elicited: ${confirm.action} ok=${confirm.action === "accept" && confirm.content?.ok === true}`);
      }
      return { content: [{ type: "text", text: parts.join("; ") }] };
    },
  );

  server.registerResource(
    "readme",
    "npm26://static/readme",
    { mimeType: "text/plain" },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: README }] }),
  );

  server.registerPrompt(
    "greet",
    {
      description: "Greet someone",
      argsSchema: fromJsonSchema({
        type: "object",
        properties: { name: { type: "string" } },
        required: ["name"],
      }),
    },
    async ({ name }) => ({
      description: "A greeting",
      messages: [{ role: "user", content: { type: "text", text: `Hello, ${name}!` } }],
    }),
  );

  return server;
}

const argv = process.argv.slice(2);
if (argv.includes("--stdio")) {
  serveStdio(() => buildServer(), { onerror: (err) => process.stderr.write(`${NAME}: ${err?.stack ?? err}\n`) });
} else {
  const i = argv.indexOf("--port");
  const port = Number(i >= 0 ? argv[i + 1] : process.env.PORT ?? 0);
  const handler = createMcpHandler(() => buildServer(), {
    onerror: (err) => process.stderr.write(`${NAME}: ${err?.message ?? err}\n`),
  });
  const httpServer = http.createServer((req, res) => serveNode(handler, req, res));
  httpServer.listen(port, "127.0.0.1", () => {
    const { port } = httpServer.address();
    process.stderr.write(`${NAME} listening on http://127.0.0.1:${port}/mcp\n`);
  });
  const stop = () => {
    httpServer.close();
    handler.close().finally(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

// serveNode adapts node:http to the handler's web-standard fetch face (what
// toNodeHandler of @modelcontextprotocol/node does, without that package).
async function serveNode(handler, req, res) {
  try {
    if (new URL(req.url, "http://x").pathname !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
      else if (v !== undefined) headers.set(k, v);
    }
    const request = new Request(`http://${req.headers.host ?? "127.0.0.1"}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" || body.length === 0 ? undefined : body,
      signal: abort.signal,
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) {
      for await (const chunk of response.body) res.write(chunk);
    }
    res.end();
  } catch (err) {
    process.stderr.write(`${NAME}: ${err?.stack ?? err}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
}
