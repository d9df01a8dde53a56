# guardgen: a static, non-root image.
#
#   docker build -t guardgen .
#   docker run --rm -p 50051:50051 -p 9464:9464 guardgen            # synthetic provider
#   docker run --rm -p 50051:50051 -v "$PWD/deploy/config:/etc/guardgen:ro" \
#     -e OPENAI_API_KEY guardgen --config=/etc/guardgen/guardgen.example.yaml
#
# Ports: 50051 gRPC (GenerationService, TargetService, grpc.health.v1,
# reflection), 9464 HTTP (Prometheus /metrics). On SIGTERM health turns
# NOT_SERVING and in-flight calls drain (server.shutdown_timeout_seconds).

# Build on the builder's own platform and cross-compile for the target's.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/guardgen .

# distroless/static: CA certificates (for https provider URLs), tzdata and
# /etc/passwd, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/guardgen /guardgen
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 50051 9464
ENTRYPOINT ["/guardgen"]
