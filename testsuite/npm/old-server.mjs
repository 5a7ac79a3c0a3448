// MCP server built with @modelcontextprotocol/sdk 1.0.4 (speaks only
// 2024-11-05) over stdio.
import { Server } from "sdk-old/server/index.js";
import { StdioServerTransport } from "sdk-old/server/stdio.js";
import * as types from "sdk-old/types.js";
import { buildServer } from "./server-common.mjs";

const server = buildServer({ Server, types }, "npm-old-server", "1.0.4");
await server.connect(new StdioServerTransport());
