//! Compiles the protobuf API (`proto/`) into Rust with tonic's code generator (needs `protoc`,
//! which `scripts/setup.sh` installs).

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure()
        // Arrow IPC payloads and opaque handles decode as zero-copy `Bytes` slices.
        .bytes(".freshet.v1")
        .compile_protos(
            &[
                "proto/freshet/v1/common.proto",
                "proto/freshet/v1/control.proto",
                "proto/freshet/v1/data.proto",
            ],
            &["proto"],
        )
}
