#include "net/tls_certs.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/tls_context.h"

namespace ws::net {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `common_name`, valid from an hour ago (clock skew) for a year;
// self-signed when issuer is null. Extensions are added by the caller, before sign().
CertPtr new_certificate(const std::string& common_name, EVP_PKEY* key, X509* issuer) {
  CertPtr cert(X509_new());
  uint8_t serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  return cert;
}

bool is_ip(const std::string& name) {
  in6_addr addr{};
  return ::inet_pton(AF_INET, name.c_str(), &addr) == 1 || ::inet_pton(AF_INET6, name.c_str(), &addr) == 1;
}

}  // namespace

struct ThrowawayCa::Impl {
  KeyPtr key;
  CertPtr cert;
  std::string cert_pem;
};

ThrowawayCa::ThrowawayCa(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ThrowawayCa::~ThrowawayCa() = default;

const std::string& ThrowawayCa::cert_pem() const { return impl_->cert_pem; }

std::unique_ptr<ThrowawayCa> ThrowawayCa::create(const std::string& common_name, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->key.reset(EVP_EC_gen("P-256"));
  if (impl->key) impl->cert = new_certificate(common_name, impl->key.get(), nullptr);
  X509* cert = impl->cert.get();
  BioPtr pem(BIO_new(BIO_s_mem()));
  const bool ok = cert != nullptr && add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE") &&
                  add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
                  add_extension(cert, cert, NID_subject_key_identifier, "hash") &&
                  X509_sign(cert, impl->key.get(), EVP_sha256()) > 0 && PEM_write_bio_X509(pem.get(), cert) == 1;
  if (!ok) {
    error = "cannot make a CA certificate: " + take_openssl_errors();
    return nullptr;
  }
  impl->cert_pem = bio_text(pem.get());
  return std::unique_ptr<ThrowawayCa>(new ThrowawayCa(std::move(impl)));
}

bool ThrowawayCa::issue(const std::string& common_name, const std::vector<std::string>& names, PemIdentity& out,
                        std::string& error, const std::string& key_password) const {
  KeyPtr key(EVP_EC_gen("P-256"));
  CertPtr cert = key ? new_certificate(common_name, key.get(), impl_->cert.get()) : nullptr;
  std::string alt_names;
  for (const std::string& name : names) {
    if (!alt_names.empty()) alt_names += ",";
    alt_names += (is_ip(name) ? "IP:" : "DNS:") + name;
  }
  X509* ca = impl_->cert.get();
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  BioPtr key_pem(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = key_password.empty() ? nullptr : EVP_aes_256_cbc();
  auto* password = key_password.empty() ? nullptr
                                        : reinterpret_cast<unsigned char*>(const_cast<char*>(key_password.data()));
  const bool ok =
      cert && add_extension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE") &&
      add_extension(cert.get(), ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
      add_extension(cert.get(), ca, NID_ext_key_usage, "serverAuth,clientAuth") &&
      add_extension(cert.get(), ca, NID_authority_key_identifier, "keyid") &&
      (alt_names.empty() || add_extension(cert.get(), ca, NID_subject_alt_name, alt_names)) &&
      X509_sign(cert.get(), impl_->key.get(), EVP_sha256()) > 0 &&
      PEM_write_bio_X509(cert_pem.get(), cert.get()) == 1 &&
      PEM_write_bio_PrivateKey(key_pem.get(), key.get(), cipher, password, static_cast<int>(key_password.size()),
                               nullptr, nullptr) == 1;
  if (!ok) {
    error = "cannot issue a certificate for " + common_name + ": " + take_openssl_errors();
    return false;
  }
  out.cert = bio_text(cert_pem.get());
  out.key = bio_text(key_pem.get());
  return true;
}

bool make_pkcs12(const PemIdentity* identity, const std::vector<std::string>& chain_pems, const std::string& password,
                 std::string& out, std::string& error) {
  auto read_cert = [](const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return CertPtr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  };
  KeyPtr key;
  CertPtr cert;
  if (identity != nullptr) {
    BioPtr bio(BIO_new_mem_buf(identity->key.data(), static_cast<int>(identity->key.size())));
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    cert = read_cert(identity->cert);
  }
  STACK_OF(X509)* chain = sk_X509_new_null();
  bool ok = identity == nullptr || (key && cert);
  for (const std::string& pem : chain_pems) {
    CertPtr c = read_cert(pem);
    ok = ok && c && sk_X509_push(chain, c.get()) > 0;
    if (ok) c.release();  // the stack owns it now
  }
  PKCS12* p12 = ok ? PKCS12_create(password.c_str(), nullptr, key.get(), cert.get(), chain, 0, 0, 0, 0, 0) : nullptr;
  sk_X509_pop_free(chain, X509_free);
  BioPtr der(BIO_new(BIO_s_mem()));
  ok = p12 != nullptr && i2d_PKCS12_bio(der.get(), p12) == 1;
  PKCS12_free(p12);
  if (!ok) {
    error = "cannot make a PKCS12 file: " + take_openssl_errors();
    return false;
  }
  out = bio_text(der.get());
  return true;
}

}  // namespace ws::net
