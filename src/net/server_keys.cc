#include "net/server_keys.h"

#include <algorithm>
#include <cctype>

namespace enarx::net {
namespace {

std::string env_name(const std::string& prefix, std::string_view key) {
  std::string out = prefix;
  for (char c : key) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string flag_of(std::string_view key) {
  std::string out = "--";
  for (char c : key) out += c == '_' ? '-' : c;
  return out;
}

}  // namespace

void declare_server_keys(config::Loader& loader, const ServerKeyDefaults& d) {
  using config::Type;
  auto add = [&](std::string_view name, Type type, config::Value value, std::string help,
                 std::string flag = {}, std::string env = {}) {
    config::Key key{.name = "server." + std::string(name),
                    .type = type,
                    .default_value = std::move(value),
                    .env = env.empty() ? env_name(d.env_prefix, name) : std::move(env),
                    .flag = flag.empty() ? flag_of(name) : std::move(flag),
                    .help = std::move(help)};
    if (auto it = d.former_names.find(std::string(name)); it != d.former_names.end()) key.former_names = it->second;
    loader.add(std::move(key));
  };
  add("address", Type::String, d.address, "IP address to listen on (\"::\" = all, dual stack)", d.address_flag,
      d.address_env);
  add("port", Type::Integer, d.port, "TCP port", d.port_flag);
  add("workers", Type::Integer, d.workers, "Request handler threads");
  add("io_threads", Type::Integer, d.io_threads, "Network I/O threads");
  add("plain_http", Type::Boolean, false, "Serve plain HTTP (ONLY behind a TLS-terminating proxy)",
      d.plain_http_flag);
  add("max_body_size", Type::Integer, static_cast<std::int64_t>(d.max_body_size),
      "Largest request body in bytes where a route sets no limit of its own (413 above)");
  add("max_buffered_bytes", Type::Integer, std::int64_t{64} << 20,
      "Request body bytes held in memory across all connections (503 past it)");
  add("max_connections", Type::Integer, std::int64_t{1024}, "Concurrent connections");
  add("max_connections_per_ip", Type::Integer, std::int64_t{64},
      "Concurrent connections per client address (IPv6: per /64; 0 = no per-address cap)");
  add("handshake_timeout", Type::Duration, config::Duration(std::chrono::seconds(5)),
      "Time from accept to a finished TLS handshake");
  add("max_queued_requests", Type::Integer, std::int64_t{256}, "Requests waiting for a worker thread (503 past it)");
  add("request_timeout", Type::Duration, config::Duration(std::chrono::seconds(60)),
      "Time allowed to receive a request body / send a response");
  add("shutdown_grace", Type::Duration, config::Duration(std::chrono::seconds(10)),
      "Time in-flight requests get on shutdown");
}

ServerConfig server_config_from(const config::Config& cfg) {
  auto count = [&](std::string_view key) { return std::max<std::int64_t>(0, cfg.get_int(key)); };
  ServerConfig sc;
  sc.address = cfg.get_string("server.address");
  sc.port = static_cast<std::uint16_t>(cfg.get_int("server.port"));
  sc.worker_threads = static_cast<unsigned>(std::max<std::int64_t>(1, cfg.get_int("server.workers")));
  sc.io_threads = static_cast<unsigned>(std::max<std::int64_t>(1, cfg.get_int("server.io_threads")));
  sc.allow_plaintext = cfg.get_bool("server.plain_http");
  sc.max_body_size = static_cast<std::uint64_t>(count("server.max_body_size"));
  sc.max_buffered_bytes = static_cast<std::uint64_t>(count("server.max_buffered_bytes"));
  sc.max_connections = static_cast<std::size_t>(count("server.max_connections"));
  sc.max_connections_per_ip = static_cast<std::size_t>(count("server.max_connections_per_ip"));
  sc.handshake_timeout = cfg.get_duration("server.handshake_timeout");
  sc.max_queued_requests = static_cast<std::size_t>(count("server.max_queued_requests"));
  sc.body_timeout = sc.write_timeout = cfg.get_duration("server.request_timeout");
  sc.shutdown_grace = cfg.get_duration("server.shutdown_grace");
  return sc;
}

}  // namespace enarx::net
