//! The console's built files are embedded in the binary (`api::console`), read by a macro
//! that cargo does not watch: a rebuilt console (new hashed file names) must rebuild the hub.

fn main() {
    println!("cargo:rerun-if-changed=../console/dist");
}
