// The OpenSSL contexts TlsEngine uses, built from TlsOptions (tls.cpp). Internal to net/.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "net/tls.h"

namespace ws::net {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// nullptr with a message naming the file or option at fault.
SslCtxPtr make_client_context(const TlsOptions& options, std::string& error);
// Requires options.server.identity.
SslCtxPtr make_server_context(const TlsOptions& options, std::string& error);

// Empties this thread's OpenSSL error queue into one line: the reasons, oldest first, joined by
// "; " (e.g. "wrong version number"). "unknown error" when the queue is empty.
std::string take_openssl_errors();

}  // namespace ws::net
