# The `freshet` image: the stream processor binary (coordinator, worker, run, ...), as the
# StreamJob's `spec.image`. Build from the repository root:
#   docker build -f docker/freshet.Dockerfile -t freshet:0.1.0 .
# The operator runs it with a read-only root file system, emptyDirs at /var/lib/freshet and /tmp,
# and the job script mounted at /etc/freshet.

FROM rust:1.89-bookworm AS builder
# clang/libclang: bindgen for the RocksDB bindings; protoc: the cluster protocol.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang libclang-dev protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p freshet-cli --bin freshet \
 && cp target/release/freshet /usr/local/bin/freshet

FROM debian:bookworm-slim
# CA certificates for object stores (s3://, gs://, az://) over TLS; libstdc++ for RocksDB.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/freshet \
 && chown 10001:10001 /var/lib/freshet
COPY --from=builder /usr/local/bin/freshet /usr/local/bin/freshet
USER 10001:10001
WORKDIR /var/lib/freshet
# rpc, data plane, REST, metrics
EXPOSE 6123 6124 8081 9249
ENTRYPOINT ["/usr/local/bin/freshet"]
