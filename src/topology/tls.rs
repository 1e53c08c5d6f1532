//! Test certificate authorities for the TLS variant of the topology, generated at run time
//! (nothing secret is kept in the repository). The docs leave the server-side TLS set-up to Redis'
//! own documentation (redis-session-storage.mdx#enable-tls); the harness follows it: `tls-port`
//! with the plaintext `port 0`, `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file`, and
//! `tls-replication yes` so that Sentinel and replicas speak TLS to the master too.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA and the PEM of its certificate.
pub struct TestCa {
    pub name: String,
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate and key, PEM.
#[derive(Clone)]
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> Result<Self, String> {
        let key = KeyPair::generate().map_err(|e| format!("CA {name}: key: {e}"))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| format!("CA {name}: {e}"))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).map_err(|e| format!("CA {name}: {e}"))?;
        Ok(Self { name: name.to_string(), cert_pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[String]) -> Result<ServerCert, String> {
        let key = KeyPair::generate().map_err(|e| format!("server key: {e}"))?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(|e| format!("server certificate: {e}"))?;
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| format!("server certificate: {e}"))?;
        Ok(ServerCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

/// How the topology serves TLS.
pub struct TopologyTls {
    /// Signs the Redis servers' certificates.
    pub redis_ca: TestCa,
    /// Signs the Sentinels' certificates (the same CA as the servers when `None`).
    pub sentinel_ca: Option<TestCa>,
}

impl TopologyTls {
    /// One CA for Redis and Sentinel (redis-session-storage.mdx#configure-tls-in-mcpexternalauthconfig).
    pub fn one_ca() -> Result<Self, String> {
        Ok(Self { redis_ca: TestCa::new("vmcp-conformance Redis test CA")?, sentinel_ca: None })
    }

    /// Sentinel certificates from a second CA (redis-session-storage.mdx#separate-tls-config-for-sentinel).
    pub fn separate_sentinel_ca() -> Result<Self, String> {
        Ok(Self {
            redis_ca: TestCa::new("vmcp-conformance Redis test CA")?,
            sentinel_ca: Some(TestCa::new("vmcp-conformance Sentinel test CA")?),
        })
    }

    pub fn sentinel_ca(&self) -> &TestCa {
        self.sentinel_ca.as_ref().unwrap_or(&self.redis_ca)
    }

    /// What every pod trusts for its outgoing links (Sentinel to master and to other Sentinels).
    pub fn bundle(&self) -> String {
        match &self.sentinel_ca {
            Some(s) => format!("{}{}", self.redis_ca.cert_pem, s.cert_pem),
            None => self.redis_ca.cert_pem.clone(),
        }
    }

    /// The CA of a pod's certificate.
    pub fn ca_for(&self, sentinel: bool) -> &TestCa {
        if sentinel { self.sentinel_ca() } else { &self.redis_ca }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_pem_for_loopback_and_dns_names() {
        let tls = TopologyTls::separate_sentinel_ca().unwrap();
        let cert = tls.sentinel_ca().issue(&["127.0.0.1".into(), "redis-sentinel-0.example".into()]).unwrap();
        assert!(cert.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(cert.key_pem.contains("PRIVATE KEY"));
        assert_ne!(tls.redis_ca.cert_pem, tls.sentinel_ca().cert_pem);
        assert_eq!(tls.bundle().matches("BEGIN CERTIFICATE").count(), 2);
    }
}
