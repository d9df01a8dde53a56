# One command each for the things a contributor does. CI runs .ci/run.
export PATH := $(shell go env GOPATH)/bin:$(PATH)

.PHONY: proto check-proto check-breaking lint test

# proto regenerates everything derived from proto/: the imported protos
# (protovalidate rules, google.api HTTP rules) printed from the Go modules'
# descriptors, then gen/ from buf.gen.yaml.
proto:
	go run ./tools/depprotos -out proto
	buf format -w
	buf generate

# check-proto fails when proto/ is unformatted, lint-dirty, or gen/ is stale.
check-proto: proto
	buf format -d --exit-code
	buf lint
	git diff --exit-code -- proto gen
	test -z "$$(git status --porcelain -- proto gen)"

# check-breaking fails when proto/ breaks compatibility (buf's FILE rules:
# wire, JSON and generated-code compatibility) with main's previous commit.
# BREAKING_AGAINST picks another base, e.g. a release tag.
BREAKING_AGAINST ?= HEAD~1
check-breaking:
	buf breaking --against '.git#ref=$(BREAKING_AGAINST)'

# lint runs go vet and staticcheck (pinned in .ci/run).
lint:
	go vet ./...
	staticcheck ./...

test:
	go test -race ./...
