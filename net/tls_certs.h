// Throwaway certificates made in memory: a CA and the certificates it signs, as PEM text, and
// PKCS12 key stores holding them. For tests, benchmarks and a TLS test server that was given no
// certificate; nothing made here should ever be trusted outside the process that made it.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace ws::net {

struct PemIdentity {
  std::string cert;  // the certificate, PEM
  std::string key;   // its private key, PEM (encrypted when issued with a password)
};

class ThrowawayCa {
 public:
  // A self-signed CA with a new EC P-256 key, valid from an hour ago for a year.
  static std::unique_ptr<ThrowawayCa> create(const std::string& common_name, std::string& error);
  ~ThrowawayCa();
  ThrowawayCa(const ThrowawayCa&) = delete;
  ThrowawayCa& operator=(const ThrowawayCa&) = delete;

  const std::string& cert_pem() const;

  // A certificate for servers and clients alike (both extended key usages), signed by this CA.
  // `names` become subjectAltNames: IP addresses as IP entries, the rest as DNS names. With a
  // key_password the key is written encrypted (AES-256).
  bool issue(const std::string& common_name, const std::vector<std::string>& names, PemIdentity& out,
             std::string& error, const std::string& key_password = "") const;

 private:
  struct Impl;
  explicit ThrowawayCa(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A PKCS12 file's bytes: with `identity` a keystore (its key, its certificate, and `chain_pems`),
// without one a truststore holding only `chain_pems` (as Java's client.truststore.p12 does).
bool make_pkcs12(const PemIdentity* identity, const std::vector<std::string>& chain_pems, const std::string& password,
                 std::string& out, std::string& error);

}  // namespace ws::net
