// Package official is test support for differential tests: it validates
// JSON-RPC messages against the official MCP schema.json files, serves the
// seed corpus of valid messages under schemas/testdata/corpus, and derives
// mechanical mutations from those seeds.
//
// The official files live outside the repository, in ../shared/spec/<rev>/
// relative to the repository root (see SpecDir). They are read at test time
// and never copied into the repository.
//
// Validation follows the official schemas, not mcpbroker's own ones. The
// schema files are compiled with github.com/santhosh-tekuri/jsonschema/v6
// with its defaults: the dialect comes from each file's $schema, and format
// assertion is not switched on. Note that the library always asserts
// "format" for draft-07 documents (2024-11-05 to 2025-06-18), so "uri" and
// "uri-template" strings are checked there, while the 2020-12 documents
// (2025-11-25 and later) treat "format" as an annotation only.
//
// The method a message belongs to (its message definition and the result
// definitions of a request) comes from the method table of
// github.com/mcpbroker/mcpbroker/schemas/catalogue.
package official
