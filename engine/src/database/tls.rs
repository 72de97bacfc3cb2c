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

/// Why a URL's TLS settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// `sslmode` is not one of libpq's words.
    SslMode {
        /// What the URL says.
        given: String,
    },
    /// The `sslrootcert` file cannot be read, or holds no certificate rustls takes.
    RootCert {
        /// The file.
        path: PathBuf,
        /// What went wrong with it.
        message: String,
    },
    /// rustls refused the verifier or the protocol versions.
    Config {
        /// What it refused (`certificate verifier`), if it says.
        what: Option<&'static str>,
        /// rustls's message.
        message: String,
    },
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::SslMode { given } => {
                write!(f, "sslmode={given} is not one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            TlsError::RootCert { path, message } => write!(f, "sslrootcert {}: {message}", path.display()),
            TlsError::Config { what: Some(what), message } => write!(f, "{what}: {message}"),
            TlsError::Config { what: None, message } => f.write_str(message),
        }
    }
}

impl std::error::Error for TlsError {}

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

/// What is not checked on a connection made with `tls`, as a warning, or `None` when the
/// server's certificate is checked (verify-full, verify-ca, or require with a root certificate).
pub fn unverified(tls: &Tls) -> Option<&'static str> {
    match (tls.mode, &tls.root) {
        (Mode::VerifyFull | Mode::VerifyCa, _) | (Mode::Require, Some(_)) => None,
        (Mode::Disable, _) => Some("sslmode=disable: the connection, password included, is not encrypted"),
        (Mode::Prefer, _) => Some(
            "sslmode=prefer (the default): encrypted only if the server offers it, and the server's certificate is \
             not checked, so anyone between can read the connection",
        ),
        (Mode::Require, None) => Some(
            "sslmode=require: encrypted, but the server's certificate is not checked, so anyone between can read it",
        ),
    }
}

/// Takes `sslmode` and `sslrootcert` out of a URL: (the URL without them, what they said).
/// A `key=value` connection string is left to the driver (which knows disable, prefer and
/// require).
pub fn split(url: &str) -> Result<(String, Tls), TlsError> {
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
                    other => return Err(TlsError::SslMode { given: other.to_owned() }),
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
pub fn connector(tls: &Tls) -> Result<tokio_postgres_rustls::MakeRustlsConnect, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &tls.root {
        Some(path) => {
            let mut store = rustls::RootCertStore::empty();
            let unusable =
                |e: &dyn std::fmt::Display| TlsError::RootCert { path: path.clone(), message: e.to_string() };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| unusable(&e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| unusable(&e))?;
            for cert in certs {
                store.add(cert).map_err(|e| unusable(&e))?;
            }
            store
        }
        None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    };
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Config { what: Some("certificate verifier"), message: e.to_string() })?;
    let check = match (tls.mode, &tls.root) {
        (Mode::VerifyFull, _) => Check::Full,
        (Mode::VerifyCa, _) | (Mode::Require, Some(_)) => Check::Chain,
        _ => Check::Nothing,
    };
    let verifier = Arc::new(Verifier { webpki, check });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config { what: None, message: e.to_string() })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// `prefer`/`require` without a CA: encryption, no check of who answers (libpq's meaning).
    Nothing,
    /// `verify-ca`: the chain, not the host name.
    Chain,
    /// `verify-full`: the chain and the host name.
    Full,
}

/// The web PKI verifier, told how much of its verdict counts. The handshake's signatures are
/// always checked (they prove the server holds the certificate's key).
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    check: Check,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.check == Check::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_checked_certificate_goes_without_a_warning() {
        let said = |url: &str| unverified(&split(url).unwrap().1);
        assert_eq!(said("postgres://db/shop?sslmode=verify-full"), None);
        assert_eq!(said("postgres://db/shop?sslmode=verify-ca"), None);
        assert_eq!(said("postgres://db/shop?sslmode=require&sslrootcert=/etc/ca.pem"), None);
        assert!(said("postgres://db/shop").unwrap().starts_with("sslmode=prefer (the default)"));
        assert!(said("postgres://db/shop?sslmode=require").unwrap().contains("certificate is not checked"));
        assert!(said("postgres://db/shop?sslmode=disable").unwrap().contains("not encrypted"));
    }

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
        let e = split("postgresql://db/shop?sslmode=sometimes").unwrap_err();
        assert_eq!(e, TlsError::SslMode { given: "sometimes".into() });
        assert!(e.to_string().contains("verify-full"), "{e}");
    }
}
