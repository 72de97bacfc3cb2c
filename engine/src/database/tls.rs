//! TLS for databases reached by URL, as libpq's `sslmode` means it, so planrun's own
//! connection and the `pg_dump`/`pg_restore` beside it agree:
//!
//! - `disable`: no TLS; `allow`, `prefer`: TLS when the server offers it; `require`: TLS or
//!   nothing. None of these check the certificate (libpq does not either), unless
//!   `sslrootcert` names a CA file, which makes `require` check the chain as `verify-ca` does.
//! - `verify-ca`: the certificate chains to `sslrootcert` (or the web's roots); any host name.
//! - `verify-full`: that, and the certificate names the host.
//!
//! tokio-postgres reads only disable/prefer/require, so `sslmode` and `sslrootcert` are taken
//! out of the URL here and applied to the connector.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;

/// What the URL asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The `sslmode`.
    pub mode: Mode,
    /// The `sslrootcert`, if given.
    pub root: Option<PathBuf>,
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `disable`.
    Disable,
    /// `allow` or `prefer` (the default).
    Prefer,
    /// `require`.
    Require,
    /// `verify-ca`.
    VerifyCa,
    /// `verify-full`.
    VerifyFull,
}

impl Mode {
    /// As libpq and `PGSSLMODE` spell it.
    pub fn word(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told.
    pub fn driver(self) -> SslMode {
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of a URL: (the URL without them, what they said).
/// A `key=value` connection string is left to the driver (which knows disable, prefer and
/// require).
pub fn split(url: &str) -> Result<(String, Tls), String> {
    let Ok(mut parsed) = ::url::Url::parse(url) else {
        return Ok((url.to_owned(), Tls { mode: Mode::Prefer, root: None }));
    };
    let mut mode = Mode::Prefer;
    let mut root = None;
    let mut kept = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "sslmode" => {
                mode = match v.as_ref() {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root = Some(PathBuf::from(v.as_ref())),
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.to_string(), Tls { mode, root }))
}

/// The connector for `tls`.
pub fn connector(tls: &Tls) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &tls.root {
        Some(path) => {
            let mut store = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            for cert in certs {
                store.add(cert).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
            store
        }
        None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    };
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("certificate verifier: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (tls.mode, &tls.root) {
        (Mode::VerifyFull, _) => webpki,
        (Mode::VerifyCa, _) | (Mode::Require, Some(_)) => Arc::new(ChainOnly(webpki)),
        _ => Arc::new(Unchecked(provider.clone())),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `prefer`/`require` without a CA: encryption, no check of who answers (libpq's meaning).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_come_out_of_the_url_and_the_rest_stays() {
        let (url, tls) =
            split("postgresql://app@db:5432/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=5")
                .unwrap();
        assert_eq!(url, "postgresql://app@db:5432/shop?connect_timeout=5");
        assert_eq!(tls, Tls { mode: Mode::VerifyFull, root: Some("/etc/ca.pem".into()) });
        let (url, tls) = split("postgresql://app@db/shop?sslmode=require").unwrap();
        assert_eq!((url.as_str(), tls.mode.driver()), ("postgresql://app@db/shop", SslMode::Require));
        assert_eq!(split("postgresql://db/shop").unwrap().1.mode, Mode::Prefer);
        assert!(split("postgresql://db/shop?sslmode=sometimes").unwrap_err().contains("verify-full"));
    }
}
