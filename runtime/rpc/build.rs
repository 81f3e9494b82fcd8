//! Compiles the protobuf API (`proto/`) into Rust with tonic's code generator (needs `protoc`,
//! which `scripts/setup.sh` installs).

fn main() {
    println!("cargo:rerun-if-changed=proto");
}
