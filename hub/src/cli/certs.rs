//! `causeway certs dev`: a development CA, a server certificate for localhost and a client
//! certificate, for trying TLS and mutual TLS without a real PKI.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Write ca.pem, server.pem, server-key.pem, client.pem and client-key.pem into a folder.
    Dev {
        /// The folder to write them into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The client certificate's common name.
        #[arg(long, default_value = "causeway-dev-client")]
        client_name: String,
    },
}

pub fn run(command: CertsCommand) -> Result<(), Box<dyn std::error::Error>> {
    let CertsCommand::Dev { out, client_name } = command;
    std::fs::create_dir_all(&out)?;

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = name("Causeway development CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_certificate = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    server.distinguished_name = name("localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_certificate = server.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name = name(&client_name);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_certificate = client.signed_by(&client_key, &issuer)?;

    write(&out.join("ca.pem"), &ca_certificate.pem(), false)?;
    write(&out.join("server.pem"), &server_certificate.pem(), false)?;
    write(&out.join("server-key.pem"), &server_key.serialize_pem(), true)?;
    write(&out.join("client.pem"), &client_certificate.pem(), false)?;
    write(&out.join("client-key.pem"), &client_key.serialize_pem(), true)?;
    println!(
        "wrote a development CA, a server certificate for localhost and a client certificate ({client_name}) to {}",
        out.display()
    );
    Ok(())
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Causeway development");
    name
}

/// Writes a file; private keys are readable by their owner alone.
fn write(path: &Path, text: &str, private: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
}
