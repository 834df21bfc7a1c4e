// A throw-away PostgreSQL 15 cluster for tests (drawbridge's store, steward's certificate
// index, the client): initdb into a temp dir, postgres on a free 127.0.0.1 port (and a unix
// socket in the temp dir), stopped on destruction. Runs the server as `nobody` when the test
// runs as root (initdb refuses root). No mocks. Header-only: include as "support/pg_cluster.h"
// and link PkgConfig::PQXX.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "core/file.h"

namespace enarx::pgtest {

inline const char* kPgBin = "/usr/lib/postgresql/15/bin";

inline bool pg_available() { return std::filesystem::exists(std::string(kPgBin) + "/initdb"); }

// GTEST_SKIP locally, FAIL under CI=true, when the binaries are missing.
#define ENARX_REQUIRE_PG()                                                                   \
  do {                                                                                       \
    if (!::enarx::pgtest::pg_available()) {                                                  \
      const char* ci = std::getenv("CI");                                                    \
      if (ci && std::string(ci) == "true") FAIL() << "PostgreSQL 15 binaries missing in CI"; \
      GTEST_SKIP() << "PostgreSQL 15 binaries missing";                                      \
    }                                                                                        \
  } while (0)

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

class PgCluster {
 public:
  PgCluster() : dir_("pg-cluster") {
    namespace fs = std::filesystem;
    port_ = free_port();
    std::string prefix;
    if (::geteuid() == 0) {
      auto* pw = ::getpwnam("nobody");
      if (!pw) throw std::runtime_error("no 'nobody' user to run postgres as");
      if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("chown temp dir failed");
      fs::permissions(dir_.path(), fs::perms::owner_all);
      prefix = "runuser -u nobody -- ";
    }
    auto data = (dir_.path() / "data").string();
    auto log = (dir_.path() / "setup.log").string();     // written by this (root) process
    auto pglog = (dir_.path() / "postgres.log").string();  // written by the server's user
    run(prefix + kPgBin + "/initdb -D " + data + " -U drawbridge --auth=trust -E UTF8 --no-sync >" +
        log + " 2>&1");
    // free_port() is only free when asked: between it and the server's bind, another process
    // (a parallel test's outgoing connection, another cluster) may take the port, and the start
    // fails. Start again on another port; the data directory stays.
    for (int attempt = 1;; ++attempt) {
      const std::string start = prefix + kPgBin + "/pg_ctl -D " + data + " -l " + pglog + " -w -t 60 -o \"-p " +
                                std::to_string(port_) + " -k " + dir_.path().string() +
                                " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start >>" +
                                log + " 2>&1";
      if (std::system(start.c_str()) == 0) break;
      if (attempt == 5) throw std::runtime_error("command failed 5 times (see " + log + ", " + pglog + "): " + start);
      port_ = free_port();
    }
    stop_cmd_ = prefix + kPgBin + "/pg_ctl -D " + data + " -m immediate -w stop >/dev/null 2>&1";
  }
  ~PgCluster() { (void)std::system(stop_cmd_.c_str()); }

  std::string conninfo(const std::string& db = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=drawbridge dbname=" + db;
  }
  // The same database as a postgresql:// URL (what configuration files hold).
  std::string url(const std::string& db = "postgres") const {
    return "postgresql://drawbridge@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  // A fresh, empty database; returns its conninfo.
  std::string new_database() { return conninfo(new_database_name()); }
  // A fresh, empty database; returns its name (for conninfo() or url()).
  std::string new_database_name() {
    static std::atomic<int> counter{0};
    std::string name = "t" + std::to_string(++counter);
    pqxx::connection c(conninfo());
    pqxx::nontransaction w(c);
    w.exec("CREATE DATABASE " + name);
    return name;
  }

 private:
  static void run(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
  }
  TempDir dir_;
  int port_ = 0;
  std::string stop_cmd_;
};

// One cluster per test process (CTest runs each test in its own process).
inline PgCluster& shared_cluster() {
  static PgCluster cluster;
  return cluster;
}

// Test names for suites typed over an SQLite and a PostgreSQL back end (types with `kPg`).
struct BackendNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kPg ? "Postgres" : "Sqlite";
  }
};

}  // namespace enarx::pgtest
