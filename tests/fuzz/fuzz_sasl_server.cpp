// The sink's side of SASL against a hostile client: byte 0 picks PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512; the rest is the client's token (PLAIN), or client-first '\n' client-final
// (SCRAM, see fuzz_sasl_common.h). The SCRAM parsers also run on their own. The user "user" has
// RFC 7677's salt, and the server RFC 7677's nonce, so the seeds (that RFC's messages) get through.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_sasl_common.h"
#include "protocol/sasl/sasl.h"
#include "protocol/sasl/scram.h"

using namespace ws::protocol::sasl;

namespace {

// Derived once: PBKDF2 per input would make the target a hash benchmark.
UserStore& users() {
  static UserStore* store = [] {
    auto* s = new UserStore(UserStore::Passwords{{"user", "pencil"}});
    std::vector<uint8_t> salt;
    scram::from_base64("W22ZaJ0SNY7soEsUEjb6gQ==", salt);
    for (Mechanism m : {Mechanism::kScramSha256, Mechanism::kScramSha512}) {
      s->set_scram_credential(m, "user", derive_scram_credential(m, "pencil", salt, 4096));
    }
    return s;
  }();
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Mechanism mechanisms[] = {Mechanism::kPlain, Mechanism::kScramSha256, Mechanism::kScramSha512};
  const Mechanism mechanism = mechanisms[data[0] % 3];
  const std::span<const uint8_t> input(data + 1, size - 1);
  std::string error;
  std::vector<uint8_t> reply;

  if (mechanism == Mechanism::kPlain) {
    ServerExchange server(mechanism, users());
    const ServerExchange::Step step = server.on_client(input, reply, error);
    if ((step == ServerExchange::Step::kDone) != server.done() || !reply.empty()) std::abort();
    return 0;
  }

  const ws::fuzz::TwoTokens tokens = ws::fuzz::split_tokens(input);
  scram::ClientFirstMessage first;
  if (scram::parse_client_first(ws::fuzz::as_text(tokens.first), first, error)) {
    if (first.username.empty() || first.nonce.empty() || !scram::is_printable(first.nonce)) std::abort();
  }
  scram::ClientFinalMessage final_message;
  const std::string_view final_text = ws::fuzz::as_text(tokens.second);
  if (scram::parse_client_final(final_text, final_message, error)) {
    if (!final_text.starts_with(final_message.without_proof) || final_message.proof.empty()) std::abort();
  }

  ServerExchange server(mechanism, users(), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  if (server.on_client(tokens.first, reply, error) != ServerExchange::Step::kSend) return 0;
  const ServerExchange::Step step = server.on_client(tokens.second, reply, error);
  if ((step == ServerExchange::Step::kDone) != server.done()) std::abort();
  if (step == ServerExchange::Step::kDone && server.username() != "user") std::abort();
  return 0;
}
