// Shared definition of the small MCP server used by old-server.mjs and
// new-server.mjs. It only uses the low-level Server API and the request
// schemas, which exist (with the same names) in every 1.x SDK, so the same
// code runs against @modelcontextprotocol/sdk 1.0.4 and the newest 1.x.

const README = "mcpbroker npm interop: static readme";

export function buildServer({ Server, types }, name, version) {
  const server = new Server(
    { name, version },
    { capabilities: { tools: {}, resources: {}, prompts: {} } },
  );

  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({
    tools: [
      {
        name: "echo",
        description: "Echo the text back",
        inputSchema: {
          type: "object",
          properties: { text: { type: "string" } },
          required: ["text"],
        },
      },
      {
        name: "add",
        description: "Add two numbers",
        inputSchema: {
          type: "object",
          properties: { a: { type: "number" }, b: { type: "number" } },
          required: ["a", "b"],
        },
      },
    ],
  }));

  server.setRequestHandler(types.CallToolRequestSchema, async (req) => {
    const args = req.params.arguments ?? {};
    switch (req.params.name) {
      case "echo":
        return { content: [{ type: "text", text: `${name} echo: ${args.text}` }] };
      case "add":
        return { content: [{ type: "text", text: String(Number(args.a) + Number(args.b)) }] };
      default:
        return { isError: true, content: [{ type: "text", text: `unknown tool ${req.params.name}` }] };
    }
  });

  server.setRequestHandler(types.ListResourcesRequestSchema, async () => ({
    resources: [{ uri: "npm://static/readme", name: "readme", mimeType: "text/plain" }],
  }));

  server.setRequestHandler(types.ReadResourceRequestSchema, async (req) => {
    if (req.params.uri !== "npm://static/readme") {
      throw new Error(`unknown resource ${req.params.uri}`);
    }
    return { contents: [{ uri: req.params.uri, mimeType: "text/plain", text: README }] };
  });

  server.setRequestHandler(types.ListPromptsRequestSchema, async () => ({
    prompts: [
      {
        name: "greet",
        description: "Greet someone",
        arguments: [{ name: "name", required: true }],
      },
    ],
  }));

  server.setRequestHandler(types.GetPromptRequestSchema, async (req) => {
    if (req.params.name !== "greet") {
      throw new Error(`unknown prompt ${req.params.name}`);
    }
    const who = req.params.arguments?.name ?? "world";
    return {
      description: "A greeting",
      messages: [{ role: "user", content: { type: "text", text: `Hello, ${who}!` } }],
    };
  });

  return server;
}
