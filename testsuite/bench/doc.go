// Package bench holds the end-to-end benchmarks of the broker over
// Streamable HTTP on loopback: the latency the broker adds to a tools/call
// round trip, measured against a direct connection in the same run, and the
// memory an idle session costs.
//
// Everything runs in one process but over real TCP sockets on 127.0.0.1:
// the upstream is the demo server (package testsuite/demo) behind
// transport.HTTPServer, the broker is transport.HTTPServer plus relay.Run
// per session with a transport.DialHTTP upstream, wired as
// `mcpbroker serve --upstream-url` wires them, and the client is a lean
// raw HTTP client, the same for the direct and the brokered path, so that
// the difference between the two is the broker.
//
// The package has only tests:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./testsuite/bench/
//
// TestBenchSetup runs one round trip on every path so that `go test`
// proves the setup works.
//
// Profiling: goroutines carry the pprof label part=client, broker or demo,
// so that a CPU profile splits by part:
//
//	go test -run '^$' -bench 'ToolsCallLatency/broker/same' -cpuprofile cpu.out ./testsuite/bench/
//	go tool pprof -tagfocus part=broker -top -cum bench.test cpu.out
//
// and -idleprofile=PREFIX writes heap and goroutine profiles of the idle
// sessions of BenchmarkIdleSessionMemory at each stage of its measurement.
package bench
