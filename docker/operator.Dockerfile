# The `freshet-operator` image (the Helm chart's `image`). Build from the repository root:
#   docker build -f docker/operator.Dockerfile -t freshet-operator:0.1.0 .

FROM rust:1.89-bookworm AS builder
# clang/libclang and protoc: the workspace's build scripts need them even for the operator's
# dependencies on freshet-core and freshet-ha.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang libclang-dev protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p freshet-operator --bin freshet-operator \
 && cp target/release/freshet-operator /usr/local/bin/freshet-operator

FROM debian:bookworm-slim
# CA certificates for the API server's TLS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /usr/local/bin/freshet-operator /usr/local/bin/freshet-operator
USER 10001:10001
# /metrics, /healthz, /readyz
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/freshet-operator"]
CMD ["run"]
