// MCP server built with the newest pinned @modelcontextprotocol/sdk 1.x
// (speaks 2025-11-25) over stdio.
import { Server } from "sdk-new/server/index.js";
import { StdioServerTransport } from "sdk-new/server/stdio.js";
import * as types from "sdk-new/types.js";
import { buildServer } from "./server-common.mjs";

const server = buildServer({ Server, types }, "npm-new-server", "1.32.2");
await server.connect(new StdioServerTransport());
