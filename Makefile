# One command each for the things a contributor does. CI runs .ci/run.
export PATH := $(shell go env GOPATH)/bin:$(PATH)

.PHONY: proto check-proto test

# proto regenerates everything derived from proto/: the protovalidate rules
# printed from the Go module's descriptor, then gen/ from buf.gen.yaml.
proto:
	go run ./tools/validateproto > proto/buf/validate/validate.proto
	buf format -w
	buf generate

# check-proto fails when proto/ is unformatted, lint-dirty, or gen/ is stale.
check-proto: proto
	buf format -d --exit-code
	buf lint
	git diff --exit-code -- proto gen
	test -z "$$(git status --porcelain -- proto gen)"

test:
	go test -race ./...
