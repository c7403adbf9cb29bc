// TLS options made into OpenSSL contexts, error text, and kernel TLS detection.
#include "net/tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "net/tls_context.h"

namespace ws::net {

const char* tls_error_name(int error) {
  switch (error) {
    case kTlsHandshakeFailed: return "TLS handshake failed";
    case kTlsCertificateVerifyFailed: return "TLS certificate verify failed";
    default: return nullptr;
  }
}

namespace {

std::mutex default_options_mutex;
TlsOptions default_options;  // guarded by default_options_mutex

// A PKCS12 file's contents; frees what PKCS12_parse handed over.
struct Pkcs12Contents {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;
  Pkcs12Contents() = default;
  Pkcs12Contents(const Pkcs12Contents&) = delete;
  Pkcs12Contents& operator=(const Pkcs12Contents&) = delete;
  ~Pkcs12Contents() {
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
  }
};

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// Checked before OpenSSL opens a file, so that a missing or unreadable file is reported with the
// system's reason rather than OpenSSL's "system lib".
bool readable(const std::string& path, const char* what, std::string& error) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = std::string("tls: cannot read ") + what + " " + quoted(path) + ": " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

// Hands OpenSSL the password for an encrypted PEM key. With none, an encrypted key fails to load
// instead of OpenSSL prompting on the terminal.
int pem_password(char* buffer, int size, int /*writing*/, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || password->empty() || size <= 0) return 0;
  const size_t n = std::min(password->size(), static_cast<size_t>(size));
  std::memcpy(buffer, password->data(), n);
  return static_cast<int>(n);
}

// Key stores written by older tools (Java 8's keytool, `openssl pkcs12 -legacy`) use RC2 and
// 3DES, which OpenSSL 3 keeps in its legacy provider. Loaded on the first such file only.
bool load_legacy_provider() {
  static const bool loaded = [] {
    // The default provider must be loaded explicitly too, or loading one provider drops it.
    return OSSL_PROVIDER_load(nullptr, "default") != nullptr && OSSL_PROVIDER_load(nullptr, "legacy") != nullptr;
  }();
  return loaded;
}

bool read_pkcs12(const std::string& path, const std::string& password, const char* what, Pkcs12Contents& out,
                 std::string& error) {
  if (!readable(path, what, error)) return false;
  ERR_clear_error();
  BIO* bio = BIO_new_file(path.c_str(), "rb");
  PKCS12* p12 = bio != nullptr ? d2i_PKCS12_bio(bio, nullptr) : nullptr;
  BIO_free(bio);
  if (p12 == nullptr) {
    error = std::string("tls: ") + what + " " + quoted(path) + " is not a PKCS12 file: " + take_openssl_errors();
    return false;
  }
  bool ok = PKCS12_parse(p12, password.c_str(), &out.key, &out.cert, &out.chain) == 1;
  std::string reason = ok ? "" : take_openssl_errors();
  if (!ok && reason.find("unsupported") != std::string::npos && load_legacy_provider()) {
    ok = PKCS12_parse(p12, password.c_str(), &out.key, &out.cert, &out.chain) == 1;
    if (!ok) reason = take_openssl_errors();
  }
  PKCS12_free(p12);
  if (!ok) {
    error = std::string("tls: cannot open ") + what + " " + quoted(path) + ": " + reason;
    if (reason.find("mac verify failure") != std::string::npos) error += " (wrong password?)";
    return false;
  }
  return true;
}

// The chain and key one side presents. Errors name the files.
bool use_identity(SSL_CTX* ctx, const TlsIdentity& id, std::string& error) {
  if (!id.keystore_file.empty()) {
    if (!id.cert_file.empty() || !id.key_file.empty()) {
      error = "tls: give either a keystore or a certificate and key file, not both";
      return false;
    }
    Pkcs12Contents p12;
    if (!read_pkcs12(id.keystore_file, id.keystore_password, "keystore", p12, error)) return false;
    if (p12.key == nullptr || p12.cert == nullptr) {
      error = "tls: keystore " + quoted(id.keystore_file) + " holds no private key with its certificate";
      return false;
    }
    bool ok = SSL_CTX_use_certificate(ctx, p12.cert) == 1 && SSL_CTX_use_PrivateKey(ctx, p12.key) == 1;
    for (int i = 0; ok && i < sk_X509_num(p12.chain); ++i) {
      ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(p12.chain, i)) == 1;
    }
    if (!ok || SSL_CTX_check_private_key(ctx) != 1) {
      error = "tls: cannot use keystore " + quoted(id.keystore_file) + ": " + take_openssl_errors();
      return false;
    }
    return true;
  }
  if (id.cert_file.empty() || id.key_file.empty()) {
    error = "tls: a certificate needs its key file and a key its certificate file (got cert " +
            quoted(id.cert_file) + ", key " + quoted(id.key_file) + ")";
    return false;
  }
  if (!readable(id.cert_file, "certificate file", error) || !readable(id.key_file, "key file", error)) return false;
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, id.cert_file.c_str()) != 1) {
    error = "tls: cannot load certificate chain " + quoted(id.cert_file) + ": " + take_openssl_errors();
    return false;
  }
  BIO* bio = BIO_new_file(id.key_file.c_str(), "rb");
  EVP_PKEY* key = bio != nullptr
                      ? PEM_read_bio_PrivateKey(bio, nullptr, pem_password, const_cast<std::string*>(&id.key_password))
                      : nullptr;
  BIO_free(bio);
  if (key == nullptr) {
    const std::string reason = take_openssl_errors();
    error = "tls: cannot load private key " + quoted(id.key_file) + ": " + reason;
    const bool decrypt_failed =
        reason.find("decrypt") != std::string::npos || reason.find("password") != std::string::npos;
    if (id.key_password.empty() && decrypt_failed) {
      error += " (the key is encrypted: give its password)";
    } else if (!id.key_password.empty()) {
      error += " (wrong key password?)";
    }
    return false;
  }
  const bool ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  if (!ok) {
    error = "tls: private key " + quoted(id.key_file) + " does not fit certificate " + quoted(id.cert_file) + ": " +
            take_openssl_errors();
    return false;
  }
  return true;
}

// Adds trusted issuers to the context's store; the system's default store when nothing is given.
bool load_trust(SSL_CTX* ctx, const std::string& ca_file, const std::string& ca_dir, const std::string& truststore,
                const std::string& truststore_password, std::string& error) {
  ERR_clear_error();
  if (ca_file.empty() && ca_dir.empty() && truststore.empty()) {
    SSL_CTX_set_default_verify_paths(ctx);  // a missing system store shows as a verify failure later
    return true;
  }
  if (!ca_file.empty()) {
    if (!readable(ca_file, "CA file", error)) return false;
    if (SSL_CTX_load_verify_file(ctx, ca_file.c_str()) != 1) {
      error = "tls: cannot load CA file " + quoted(ca_file) + ": " + take_openssl_errors();
      return false;
    }
  }
  if (!ca_dir.empty()) {
    DIR* dir = ::opendir(ca_dir.c_str());
    if (dir == nullptr) {
      error = "tls: cannot read CA directory " + quoted(ca_dir) + ": " + std::strerror(errno);
      return false;
    }
    ::closedir(dir);
    if (SSL_CTX_load_verify_dir(ctx, ca_dir.c_str()) != 1) {
      error = "tls: cannot use CA directory " + quoted(ca_dir) + ": " + take_openssl_errors();
      return false;
    }
  }
  if (!truststore.empty()) {
    Pkcs12Contents p12;
    if (!read_pkcs12(truststore, truststore_password, "truststore", p12, error)) return false;
    // A Java truststore holds trusted certificate entries only; each is a trusted issuer.
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    if (p12.cert != nullptr && X509_STORE_add_cert(store, p12.cert) == 1) ++added;
    for (int i = 0; i < sk_X509_num(p12.chain); ++i) {
      if (X509_STORE_add_cert(store, sk_X509_value(p12.chain, i)) == 1) ++added;
    }
    ERR_clear_error();  // a certificate twice in the store is not an error
    if (added == 0) {
      error = "tls: truststore " + quoted(truststore) + " holds no certificates";
      return false;
    }
  }
  return true;
}

bool parse_version(const std::string& text, int& version, std::string& error) {
  static constexpr struct {
    const char* name;
    int version;
  } kVersions[] = {{"TLSv1", TLS1_VERSION}, {"TLSv1.1", TLS1_1_VERSION}, {"TLSv1.2", TLS1_2_VERSION},
                   {"TLSv1.3", TLS1_3_VERSION}};
  for (const auto& v : kVersions) {
    if (text == v.name) {
      version = v.version;
      return true;
    }
  }
  error = "tls: unknown TLS version '" + text + "': use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3";
  return false;
}

// What both sides share: versions, ciphers, buffer handling.
bool configure_common(SSL_CTX* ctx, const TlsOptions& options, std::string& error) {
  int min_version = 0;
  if (!parse_version(options.min_version, min_version, error)) return false;
  int max_version = 0;  // 0: the newest
  if (!options.max_version.empty() && !parse_version(options.max_version, max_version, error)) return false;
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  ERR_clear_error();
  if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1) {
    error = "tls: no cipher matches ciphers '" + options.ciphers + "': " + take_openssl_errors();
    return false;
  }
  if (!options.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, options.ciphersuites.c_str()) != 1) {
    error = "tls: no TLS 1.3 cipher suite matches ciphersuites '" + options.ciphersuites +
            "': " + take_openssl_errors();
    return false;
  }
  // RELEASE_BUFFERS: an idle connection gives its 16 KiB record buffers back (10,000 connections).
  // ACCEPT_MOVING_WRITE_BUFFER: a write retried after a renegotiation may come from elsewhere.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_default_passwd_cb(ctx, pem_password);  // never prompt on the terminal
  return true;
}

}  // namespace

void set_default_tls_options(const TlsOptions& options) {
  std::lock_guard lock(default_options_mutex);
  default_options = options;
}

TlsOptions default_tls_options() {
  std::lock_guard lock(default_options_mutex);
  return default_options;
}

std::string take_openssl_errors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buffer[256];
    const char* reason = ERR_reason_error_string(e);
    if (reason == nullptr) {
      ERR_error_string_n(e, buffer, sizeof buffer);
      reason = buffer;
    }
    if (text.find(reason) != std::string::npos) continue;  // the same reason from two layers
    if (!text.empty()) text += "; ";
    text += reason;
  }
  return text.empty() ? "unknown error" : text;
}

SslCtxPtr make_client_context(const TlsOptions& options, std::string& error) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    error = "tls: cannot make a client context: " + take_openssl_errors();
    return nullptr;
  }
  if (!configure_common(ctx.get(), options, error)) return nullptr;
  SSL_CTX_set_verify(ctx.get(), options.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!load_trust(ctx.get(), options.ca_file, options.ca_dir, options.truststore_file, options.truststore_password,
                  error)) {
    return nullptr;
  }
  if (!options.identity.empty() && !use_identity(ctx.get(), options.identity, error)) return nullptr;
  // The engine keeps sessions itself, per destination (its new-session callback).
  SSL_CTX_set_session_cache_mode(ctx.get(), options.resume_sessions
                                                ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE
                                                : SSL_SESS_CACHE_OFF);
  return ctx;
}

SslCtxPtr make_server_context(const TlsOptions& options, std::string& error) {
  const TlsServerOptions& server = options.server;
  if (server.identity.empty()) {
    error = "tls: a TLS listener needs a certificate and key (server identity)";
    return nullptr;
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    error = "tls: cannot make a server context: " + take_openssl_errors();
    return nullptr;
  }
  if (!configure_common(ctx.get(), options, error) || !use_identity(ctx.get(), server.identity, error)) return nullptr;
  // A client may not renegotiate: each renegotiation costs the server a full handshake.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  // No server-side session store: it would grow by one session per client. Resumption still
  // works with tickets, and one ticket per connection is all a client needs.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  static constexpr unsigned char kSessionContext[] = "wirestress";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  if (server.client_auth != ClientAuth::kNone) {
    const bool required = server.client_auth == ClientAuth::kRequired;
    const int mode = SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
    const bool own_ca = !server.ca_file.empty();
    if (!load_trust(ctx.get(), own_ca ? server.ca_file : options.ca_file, own_ca ? "" : options.ca_dir,
                    own_ca ? "" : options.truststore_file, own_ca ? "" : options.truststore_password, error)) {
      return nullptr;
    }
    // The issuers named in the certificate request, so a client with several certificates
    // picks one these trust.
    if (own_ca) SSL_CTX_set_client_CA_list(ctx.get(), SSL_load_client_CA_file(server.ca_file.c_str()));
  }
  return ctx;
}

KtlsSupport detect_ktls() {
  KtlsSupport support;
#ifndef OPENSSL_NO_KTLS
  support.openssl = true;
#endif
  // A TCP upper layer can only be attached to a connected socket: connect one to a throwaway
  // loopback listener (the kernel loads the tls module on demand, as OpenSSL would make it).
  int err = 0;
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || client < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::connect(client, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    err = errno;
  } else if (::setsockopt(client, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0) {
    support.kernel = true;
  } else {
    err = errno;
  }
  if (client >= 0) ::close(client);
  if (listener >= 0) ::close(listener);
  support.detail = support.kernel ? "kernel: tls ULP available"
                                  : std::string("kernel: no tls ULP (") + std::strerror(err) + "; modprobe tls)";
  support.detail += support.openssl ? "; OpenSSL: built with kTLS" : "; OpenSSL: built without kTLS";
  return support;
}

}  // namespace ws::net
