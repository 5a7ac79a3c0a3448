package schemas

//go:generate go run ./internal/gen -out json
