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

# Base images are pinned by digest (the multi-platform index), so a
# rebuild gets the same bytes; the tag says what the digest was. To move
# on: `crane digest golang:1.26` (or `docker buildx imagetools inspect`),
# and the same for the distroless image, then update both lines.
#
# Build on the builder's own platform and cross-compile for the target's.
FROM --platform=$BUILDPLATFORM golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647 AS build
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
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
# OCI image annotations; pass VERSION, REVISION and CREATED at build time:
#   docker build --build-arg VERSION=v0.2.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t guardgen .
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="guardgen" \
      org.opencontainers.image.description="gRPC service for guarded structured generation: LLM output validated against protobuf types" \
      org.opencontainers.image.source="https://github.com/guardgen/guardgen" \
      org.opencontainers.image.documentation="https://github.com/guardgen/guardgen#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/guardgen /guardgen
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 50051 9464
ENTRYPOINT ["/guardgen"]
