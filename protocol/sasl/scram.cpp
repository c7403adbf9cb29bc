#include "protocol/sasl/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>

namespace ws::protocol::sasl::scram {
namespace {

// SCRAM messages are comma-separated "x=value" attributes whose values never hold a ','.
std::vector<std::string_view> split_attributes(std::string_view message) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t comma = message.find(',');
    parts.push_back(message.substr(0, comma));
    if (comma == std::string_view::npos) return parts;
    message.remove_prefix(comma + 1);
  }
}

// True when `item` is "<name>=value"; `value` then views the value.
bool attribute(std::string_view item, char name, std::string_view& value) {
  if (item.size() < 2 || item[0] != name || item[1] != '=') return false;
  value = item.substr(2);
  return true;
}

bool is_mandatory_extension(std::string_view first) {
  return first.size() >= 2 && first[0] == 'm' && first[1] == '=';
}

bool check_size(std::string_view message, std::string& error) {
  if (message.empty()) {
    error = "empty message";
    return false;
  }
  if (message.size() > kMaxMessageSize) {
    error = "message longer than " + std::to_string(kMaxMessageSize) + " bytes";
    return false;
  }
  return true;
}

bool parse_nonce(std::string_view item, std::string& out, std::string& error) {
  std::string_view nonce;
  if (!attribute(item, 'r', nonce)) {
    error = "missing nonce (r=)";
    return false;
  }
  if (nonce.empty() || !is_printable(nonce)) {
    error = "nonce is empty or not printable";
    return false;
  }
  out.assign(nonce);
  return true;
}

// A base64 attribute that must not be empty once decoded (salt, proof, verifier).
bool parse_base64(std::string_view item, char name, const char* what, std::vector<uint8_t>& out,
                  std::string& error) {
  std::string_view text;
  if (!attribute(item, name, text)) {
    error = std::string("missing ") + what + " (" + name + "=)";
    return false;
  }
  if (!from_base64(text, out) || out.empty()) {
    error = std::string(what) + " is not base64 or empty";
    return false;
  }
  return true;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

const EVP_MD* md(bool sha512) { return sha512 ? EVP_sha512() : EVP_sha256(); }

}  // namespace

bool parse_client_first(std::string_view message, ClientFirstMessage& out, std::string& error) {
  if (!check_size(message, error)) return false;
  // gs2-header = gs2-cbind-flag "," [authzid] ","; "p=" would ask for channel binding (the -PLUS
  // mechanisms), which Kafka does not offer.
  if (message[0] == 'p') {
    error = "channel binding (p=) is not supported";
    return false;
  }
  if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',') {
    error = "bad gs2 header: want \"n,\" or \"y,\"";
    return false;
  }
  const size_t header_end = message.find(',', 2);
  if (header_end == std::string_view::npos) {
    error = "bad gs2 header: no end";
    return false;
  }
  const std::string_view authzid_item = message.substr(2, header_end - 2);
  std::string authzid;
  if (!authzid_item.empty()) {
    std::string_view escaped;
    if (!attribute(authzid_item, 'a', escaped) || !unescape_username(escaped, authzid)) {
      error = "bad authorization id (a=)";
      return false;
    }
  }
  out.gs2_header.assign(message.substr(0, header_end + 1));
  const std::string_view bare = message.substr(header_end + 1);
  const auto parts = split_attributes(bare);
  if (is_mandatory_extension(parts[0])) {
    error = "mandatory extension (m=) is not supported";
    return false;
  }
  std::string_view escaped_user;
  if (!attribute(parts[0], 'n', escaped_user) || !unescape_username(escaped_user, out.username) ||
      out.username.empty()) {
    error = "missing or bad username (n=)";
    return false;
  }
  if (parts.size() < 2) {
    error = "missing nonce (r=)";
    return false;
  }
  if (!parse_nonce(parts[1], out.nonce, error)) return false;
  // Later attributes are extensions (Kafka's tokenauth=true): nothing here needs them.
  if (!authzid.empty() && authzid != out.username) {
    error = "authorization id differs from the username";
    return false;
  }
  out.bare.assign(bare);
  return true;
}

bool parse_server_first(std::string_view message, ServerFirstMessage& out, std::string& error) {
  if (!check_size(message, error)) return false;
  const auto parts = split_attributes(message);
  if (is_mandatory_extension(parts[0])) {
    error = "mandatory extension (m=) is not supported";
    return false;
  }
  if (parts.size() < 3) {
    error = "want r=, s= and i=";
    return false;
  }
  if (!parse_nonce(parts[0], out.nonce, error)) return false;
  if (!parse_base64(parts[1], 's', "salt", out.salt, error)) return false;
  std::string_view count;
  const bool has_count = attribute(parts[2], 'i', count);
  uint32_t iterations = 0;
  const auto [end, status] = std::from_chars(count.data(), count.data() + count.size(), iterations);
  if (!has_count || count.empty() || status != std::errc{} || end != count.data() + count.size() ||
      iterations == 0) {
    error = "missing or bad iteration count (i=)";
    return false;
  }
  out.iterations = iterations;
  return true;
}

bool parse_client_final(std::string_view message, ClientFinalMessage& out, std::string& error) {
  if (!check_size(message, error)) return false;
  const auto parts = split_attributes(message);
  if (parts.size() < 3) {
    error = "want c=, r= and p=";
    return false;
  }
  std::string_view binding;
  if (!attribute(parts[0], 'c', binding) || !from_base64(binding, out.channel_binding)) {
    error = "missing or bad channel binding (c=)";
    return false;
  }
  if (!parse_nonce(parts[1], out.nonce, error)) return false;
  // The proof comes last (extensions, if any, sit between r= and p=).
  if (!parse_base64(parts.back(), 'p', "proof", out.proof, error)) return false;
  out.without_proof = message.substr(0, message.size() - parts.back().size() - 1);
  return true;
}

bool parse_server_final(std::string_view message, ServerFinalMessage& out, std::string& error) {
  if (!check_size(message, error)) return false;
  const auto parts = split_attributes(message);
  std::string_view server_error;
  out.verifier.clear();
  out.server_error.clear();
  if (attribute(parts[0], 'e', server_error)) {
    out.server_error = server_error.empty() ? "(empty)" : loggable(server_error);
    return true;
  }
  return parse_base64(parts[0], 'v', "server signature", out.verifier, error);
}

std::string escape_username(std::string_view username) {
  std::string out;
  out.reserve(username.size());
  for (char c : username) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

bool unescape_username(std::string_view saslname, std::string& out) {
  out.clear();
  for (size_t i = 0; i < saslname.size(); ++i) {
    const char c = saslname[i];
    if (c == '\0') return false;
    if (c != '=') {
      out += c;
      continue;
    }
    const std::string_view code = saslname.substr(i + 1, 2);
    if (code == "2C") {
      out += ',';
    } else if (code == "3D") {
      out += '=';
    } else {
      return false;
    }
    i += 2;
  }
  return true;
}

std::string to_base64(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + the NUL EVP_EncodeBlock writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool from_base64(std::string_view text, std::vector<uint8_t>& out) {
  out.clear();
  // EVP_DecodeBlock skips blanks and does not report padding: check the strict form first.
  if (text.size() % 4 != 0 || text.size() > kMaxMessageSize) return false;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=' && i + 2 >= text.size()) {
      ++padding;
    } else if (padding > 0 || !is_base64_char(text[i])) {
      return false;
    }
  }
  if (text.empty()) return true;
  out.resize(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) {
    out.clear();
    return false;
  }
  out.resize(out.size() - padding);
  // Only the canonical spelling: unused low bits before '=' must be zero, so one value has one
  // encoding (a signature cannot be "changed" without changing its bytes).
  if (to_base64(out) != text) {
    out.clear();
    return false;
  }
  return true;
}

bool is_printable(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

std::string loggable(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > max) out += "...";
  return out;
}

bool random_bytes(std::span<uint8_t> out) {
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

std::string random_nonce() {
  uint8_t random[24];
  if (!random_bytes(random)) return {};
  return to_base64(random);
}

std::vector<uint8_t> Hash::digest(std::span<const uint8_t> data) const {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &size, md(sha512_), nullptr);
  out.resize(size);
  return out;
}

std::vector<uint8_t> Hash::hmac(std::span<const uint8_t> key, std::string_view data) const {
  static const uint8_t kNoKey = 0;
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  HMAC(md(sha512_), key.empty() ? &kNoKey : key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size);
  out.resize(size);
  return out;
}

std::vector<uint8_t> Hash::salted_password(std::string_view password, std::span<const uint8_t> salt,
                                           uint32_t iterations) const {
  const EVP_MD* hash = md(sha512_);
  std::vector<uint8_t> out(static_cast<size_t>(EVP_MD_get_size(hash)));
  const bool ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                                    static_cast<int>(salt.size()), static_cast<int>(iterations), hash,
                                    static_cast<int>(out.size()), out.data()) == 1;
  if (!ok) out.clear();  // a key no proof can match: the login fails, nothing crashes
  return out;
}

Keys derive_keys(Mechanism m, std::string_view password, std::span<const uint8_t> salt,
                 uint32_t iterations) {
  const Hash hash(m);
  const std::vector<uint8_t> salted = hash.salted_password(password, salt, iterations);
  Keys keys;
  keys.client_key = hash.hmac(salted, "Client Key");
  keys.stored_key = hash.digest(keys.client_key);
  keys.server_key = hash.hmac(salted, "Server Key");
  return keys;
}

bool equal_secret(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ws::protocol::sasl::scram
