// Kept apart from http_server.cc so the server links even where X.509 parsing is not used.
#include "core/x509.h"
#include "net/http_server.h"

namespace enarx::net {

std::vector<Certificate> Request::peer_certificates() const {
  std::vector<Certificate> out;
  out.reserve(peer_chain_der.size());
  for (const auto& der : peer_chain_der) out.push_back(Certificate::from_der(der));
  return out;
}

}  // namespace enarx::net
