// The configuration keys of an HTTP server, declared once for every server binary: the same
// `[server]` names, flags and meaning in steward and drawbridge, mapped to net::ServerConfig in
// one place. TLS material stays the caller's (each server finds its certificates differently).
//
//   [server] key          flag                        environment        ServerConfig
//   address               per binary (--address)      <PREFIX>ADDRESS*   address
//   port                  per binary (--port)         <PREFIX>PORT       port
//   workers               --workers                   <PREFIX>WORKERS    worker_threads (>= 1)
//   io_threads            --io-threads                <PREFIX>IO_THREADS io_threads (>= 1)
//   plain_http            --plain-http (+ aliases)    <PREFIX>PLAIN_HTTP allow_plaintext
//   max_body_size         --max-body-size             …                  max_body_size
//   max_buffered_bytes    --max-buffered-bytes        …                  max_buffered_bytes
//   max_connections       --max-connections           …                  max_connections
//   max_connections_per_ip --max-connections-per-ip   …                  max_connections_per_ip
//   handshake_timeout     --handshake-timeout         …                  handshake_timeout
//   max_queued_requests   --max-queued-requests       …                  max_queued_requests
//   request_timeout       --request-timeout           …                  body_timeout, write_timeout
//   shutdown_grace        --shutdown-grace            …                  shutdown_grace
// (* a binary may keep an older variable name, e.g. steward's STEWARD_ADDR.)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "net/http_server.h"

namespace enarx::net {

struct ServerKeyDefaults {
  std::string env_prefix{};  // "STEWARD_", "DRAWBRIDGE_"
  std::string address = "127.0.0.1";
  std::int64_t port = 8443;
  std::int64_t workers = 4;
  std::int64_t io_threads = 1;
  std::uint64_t max_body_size = 1u << 20;
  std::string address_flag = "--address";
  std::string address_env{};  // "" = <env_prefix>ADDRESS
  std::string port_flag = "--port";
  std::string plain_http_flag = "--plain-http";
  // Names a binary's older releases used for a key (by its name below `server.`), still read
  // from files: e.g. {"plain_http", {"tls.insecure_plain_http"}}.
  std::map<std::string, std::vector<std::string>> former_names{};
};

void declare_server_keys(config::Loader& loader, const ServerKeyDefaults& defaults);

// Everything of ServerConfig the keys name; `tls` is left unset and `allow_plaintext` follows
// server.plain_http (the caller sets `tls` when it is false).
ServerConfig server_config_from(const config::Config& config);

}  // namespace enarx::net
