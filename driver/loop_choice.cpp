#include "driver/loop_choice.h"

#include <sys/stat.h>

namespace ws::driver {

net::TlsOptions client_tls_options(const TlsSettings& t) {
  net::TlsOptions o;
  o.enabled = true;
  struct stat st{};
  // ssl.ca.location names a PEM bundle or a hashed directory, as in librdkafka.
  if (!t.ca_location.empty()) {
    const bool directory = ::stat(t.ca_location.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    (directory ? o.ca_dir : o.ca_file) = t.ca_location;
  }
  o.truststore_file = t.truststore_location;
  o.truststore_password = t.truststore_password;
  o.verify_peer = t.verify_certificate;
  o.verify_hostname = t.verify_certificate && t.verify_hostname;
  o.identity.cert_file = t.certificate_location;
  o.identity.key_file = t.key_location;
  o.identity.key_password = t.key_password;
  o.identity.keystore_file = t.keystore_location;
  o.identity.keystore_password = t.keystore_password;
  o.ciphers = t.cipher_suites;
  if (!t.min_protocol.empty()) o.min_version = t.min_protocol;
  return o;
}

bool choose_loop(IoBackend io, const SecuritySettings& security, LoopChoice& out, std::string& notice,
                 std::string& error) {
  out.uring = io == IoBackend::kUring;
  if (out.uring) {
    std::string why;
    if (!net::UringLoop::create(net::LoopOptions{}, why)) {
      notice = "io_uring unavailable (" + why + "): using asio";
      out.uring = false;
    }
  }
  out.tls = security.uses_tls();
  if (out.tls) {
    // Every worker's loop makes its own TLS context from these.
    const net::TlsOptions options = client_tls_options(security.tls);
    if (!net::TlsEngine::create(options, 1, error)) return false;
    net::set_default_tls_options(options);
  }
  return true;
}

}  // namespace ws::driver
