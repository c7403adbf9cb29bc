// The client side of SCRAM against a hostile server: byte 0 picks SHA-256 or SHA-512, the rest is
// server-first '\n' server-final (see fuzz_sasl_common.h). The parsers run on their own, then the
// whole exchange runs with RFC 7677's client nonce (the seeds are that RFC's messages). Nothing may
// crash, and what a parser accepts must hold what its callers rely on.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_sasl_common.h"
#include "protocol/sasl/sasl.h"
#include "protocol/sasl/scram.h"

using namespace ws::protocol::sasl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Mechanism mechanism = data[0] % 2 ? Mechanism::kScramSha512 : Mechanism::kScramSha256;
  const ws::fuzz::TwoTokens tokens = ws::fuzz::split_tokens({data + 1, size - 1});

  std::string error;
  scram::ServerFirstMessage first;
  const bool first_parsed = scram::parse_server_first(ws::fuzz::as_text(tokens.first), first, error);
  if (first_parsed) {
    if (first.nonce.empty() || !scram::is_printable(first.nonce) || first.salt.empty() ||
        first.iterations == 0) {
      std::abort();
    }
  }
  scram::ServerFinalMessage final_message;
  if (scram::parse_server_final(ws::fuzz::as_text(tokens.second), final_message, error)) {
    if (final_message.verifier.empty() == final_message.server_error.empty()) std::abort();
  }

  // The exchange hashes the password `iterations` times: keep each input cheap by running it only
  // where the count is the minimum (or is refused before any hashing).
  if (first_parsed && first.iterations > kScramMinIterations) return 0;
  ClientExchange client(mechanism, Credentials{"user", "pencil", ""}, "rOprNGfwEbeRWgbNEkqO");
  client.initial();
  std::vector<uint8_t> reply;
  if (client.on_server(tokens.first, reply, error) != ClientExchange::Step::kSend) return 0;
  if (reply.empty()) std::abort();
  const ClientExchange::Step step = client.on_server(tokens.second, reply, error);
  if ((step == ClientExchange::Step::kDone) != client.done()) std::abort();
  return 0;
}
