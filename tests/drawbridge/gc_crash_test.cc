// Crash safety of garbage collection: the real `drawbridge gc` on a data directory holding
// many unreferenced blobs (as crashed uploads leave them), expired and live pending tags and
// complete tags, SIGKILLed over several rounds: at random moments, and as soon as the sweep
// has begun deleting. After every kill: each complete tag byte-identical, every blob a node
// references present and hashing to its name.
// Then an uninterrupted run frees the rest, and only referenced blobs remain.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/crypto.h"
#include "core/file.h"
#include "drawbridge/store.h"
#include "support/pg_cluster.h"

using namespace enarx;
using namespace enarx::drawbridge;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = std::string(ENARX_BINARY_DIR) + "/apps/drawbridge/drawbridge";

std::string random_text(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// What an upload killed after placing its blob leaves: a blob file no node references.
fs::path write_orphan(const fs::path& data, const std::string& content) {
  const auto key = blob_key_of(as_bytes(content));
  const auto dir = data / "blobs" / "sha256" / key.substr(0, 2);
  fs::create_directories(dir);
  std::FILE* f = std::fopen((dir / key).c_str(), "wb");  // not fsynced: many, and no crash here
  EXPECT_TRUE(f) << dir / key;
  if (!f) return {};
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  return dir / key;
}

std::size_t count_blob_files(const fs::path& data) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(data / "blobs"))
    if (e.is_regular_file()) ++n;
  return n;
}

// Blob keys present nodes reference, read straight from the database.
std::set<std::string> referenced_blobs(const fs::path& data) {
  std::set<std::string> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2((data / "meta.sqlite3").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT DISTINCT blob FROM nodes WHERE present = 1", -1, &st, nullptr), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) out.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

void exec_sql(const fs::path& data, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data / "meta.sqlite3").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

struct Run {
  bool killed = false;
  int exit_code = -1;
};

// When to SIGKILL a run: never, after a time, or as soon as `condition` holds (polled while the
// child runs; a loaded machine delays both alike, so such a kill lands where it is meant to).
struct KillAt {
  std::optional<std::chrono::microseconds> after;
  std::function<bool()> condition;
};

// `drawbridge gc` on `data`, SIGKILLed as `kill` says unless it finished first.
// `conninfo` set: the PostgreSQL store instead of the data directory.
Run run_gc(const fs::path& data, const fs::path& log, const KillAt& kill, const std::string& conninfo = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::string data_s = data.string();
    if (conninfo.empty())
      ::execl(kBinary.c_str(), kBinary.c_str(), "gc", "--data-dir", data_s.c_str(), "--min-blob-age", "0", "--json",
              static_cast<char*>(nullptr));
    else
      ::execl(kBinary.c_str(), kBinary.c_str(), "gc", "--store", "postgres", "--postgres", conninfo.c_str(),
              "--json", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  Run r;
  int status = 0;
  bool reaped = false;
  if (kill.after) {
    std::this_thread::sleep_for(*kill.after);
    r.killed = ::kill(pid, SIGKILL) == 0;
  } else if (kill.condition) {
    for (;;) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        reaped = true;
        break;
      }
      if (kill.condition()) {
        r.killed = ::kill(pid, SIGKILL) == 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  if (!reaped) ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    r.killed = false;
    r.exit_code = WEXITSTATUS(status);
  }
  return r;
}

KillAt kill_after(std::chrono::microseconds t) { return {t, {}}; }
const KillAt kNoKill{};

using CompleteTags = std::map<std::string, std::map<std::string, std::string>>;  // tag -> path -> content

// `n` complete tags alice/app:1.0.<t>, each a directory with its own file and one file they all
// share, recorded in `complete`.
void publish_complete_tags(Store& store, std::mt19937_64& rng, int n, CompleteTags& complete) {
  store.create_user("alice", "{}", as_bytes("{}"), "iss", "alice");
  store.create_repo("alice", "app", "{}", as_bytes("{}"), false);
  const auto shared = random_text(rng, 5000);
  for (int t = 0; t < n; ++t) {
    const auto tag = "1.0." + std::to_string(t);
    store.put_tag("alice", "app", tag, "{}", as_bytes("t"), "{\"t\":" + std::to_string(t) + "}");
    const auto id = store.get_tag("alice", "app", tag)->id;
    auto& files = complete[tag];
    files[""] = "dir-" + tag;
    files["shared"] = shared;
    files["own"] = random_text(rng, 1000 + rng() % 20000);
    store.put_node(id, "", blob_key_of(as_bytes(files[""])), as_bytes(files[""]), {{"shared", "{}"}, {"own", "{}"}});
    store.put_node(id, "shared", blob_key_of(as_bytes(shared)), as_bytes(shared), {});
    ASSERT_TRUE(store.put_node(id, "own", blob_key_of(as_bytes(files["own"])), as_bytes(files["own"]), {}).tag_completed);
  }
}

// Every tag of `complete` still complete, every node present and byte-identical.
void expect_tags_intact(Store& store, const CompleteTags& complete) {
  for (const auto& [tag, files] : complete) {
    auto t = store.get_tag("alice", "app", tag);
    ASSERT_TRUE(t && t->complete) << tag;
    for (const auto& [path, content] : files) {
      auto n = store.get_node(t->id, path);
      ASSERT_TRUE(n && n->present) << tag << " " << path;
      EXPECT_TRUE(as_string(store.read_blob(n->blob_key)) == content) << tag << " " << path;
    }
  }
}

TEST(DrawbridgeGcCrash, SigkillDuringGcLosesNothingReferenced) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  TempDir tmp("drawbridge-gc-crash");
  const auto data = tmp.path() / "data";
  const auto log = tmp.path() / "gc.log";
  std::mt19937_64 rng(4242);

  // Complete tags (sharing one file), live and expired pending tags, through the store.
  CompleteTags complete;
  std::set<std::string> expired_only;                                  // blobs only expired tags reference
  {
    auto store = open_sqlite_store(data.string());
    publish_complete_tags(*store, rng, 6, complete);
    if (HasFatalFailure()) return;
    for (int p = 0; p < 6; ++p) {
      const auto tag = (p < 3 ? "2.0." : "3.0.") + std::to_string(p);
      store->put_tag("alice", "app", tag, "{}", as_bytes("t"), "{\"p\":" + std::to_string(p) + "}");
      const auto id = store->get_tag("alice", "app", tag)->id;
      const auto root = random_text(rng, 3000);
      store->put_node(id, "", blob_key_of(as_bytes(root)), as_bytes(root), {{"missing", "{}"}});
      if (p >= 3) expired_only.insert(blob_key_of(as_bytes(root)));
    }
  }
  exec_sql(data, "UPDATE tags SET touched = touched - 30 * 86400 WHERE name LIKE '3.0.%'");

  std::size_t orphans = 0;
  const auto add_garbage = [&](int n) {
    std::vector<fs::path> written;
    for (int i = 0; i < n; ++i, ++orphans) written.push_back(write_orphan(data, random_text(rng, 500 + rng() % 3000)));
    return written;
  };
  const auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    for (const auto& key : referenced_blobs(data)) {
      const auto p = data / "blobs" / "sha256" / key.substr(0, 2) / key;
      ASSERT_TRUE(fs::exists(p)) << "referenced blob missing: " << key;
      EXPECT_EQ(to_hex(sha256(read_file(p))), key);
    }
    auto store = open_sqlite_store(data.string());
    expect_tags_intact(*store, complete);
    if (HasFatalFailure()) return;
    for (int p = 0; p < 3; ++p) EXPECT_TRUE(store->get_tag("alice", "app", "2.0." + std::to_string(p))) << "live pending tag dropped";
  };

  // How long an uninterrupted run takes on this machine, so that kills land inside runs.
  add_garbage(2000);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_gc(data, log, kNoKill).exit_code, 0) << "see " << log;
  const auto full = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  check("after a whole run");
  // Odd rounds kill at a random time, anywhere in a run (startup, expiring tags, the sweep).
  // Even rounds kill as soon as the sweep has deleted one of a sample of this round's orphans,
  // so that on a machine of any speed or load some kills land in the middle of a sweep.
  int killed = 0, partial = 0;
  const int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const auto written = add_garbage(2000);
    const auto before = count_blob_files(data);
    KillAt kill;
    if (round % 2 == 1) {
      kill = kill_after(std::chrono::microseconds(full.count() / 10 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(full.count()))));
    } else {
      std::vector<fs::path> sample;
      for (std::size_t i = 0; i < written.size(); i += std::max<std::size_t>(1, written.size() / 64)) sample.push_back(written[i]);
      kill.condition = [sample] {
        for (const auto& p : sample)
          if (!fs::exists(p)) return true;
        return false;
      };
    }
    const auto run = run_gc(data, log, kill);
    const auto after = count_blob_files(data);
    killed += run.killed;
    if (run.killed && after < before && after > referenced_blobs(data).size()) ++partial;
    if (!run.killed) {
      EXPECT_EQ(run.exit_code, 0) << "see " << log;
    }
    check("after round " + std::to_string(round) + (run.killed ? " (killed)" : " (finished)"));
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(killed, 0) << "no run was killed";
  EXPECT_GT(partial, 0) << "no kill landed in the middle of a sweep";

  // An uninterrupted run frees the rest: only referenced blobs remain, the expired tags are gone.
  const auto final_run = run_gc(data, log, kNoKill);
  EXPECT_EQ(final_run.exit_code, 0) << "see " << log;
  check("after the final run");
  const auto referenced = referenced_blobs(data);
  EXPECT_EQ(count_blob_files(data), referenced.size());
  for (const auto& k : expired_only) EXPECT_FALSE(referenced.count(k));
  {
    auto store = open_sqlite_store(data.string());
    for (int p = 3; p < 6; ++p) EXPECT_FALSE(store->get_tag("alice", "app", "3.0." + std::to_string(p)));
    GcOptions o;
    o.min_blob_age = std::chrono::seconds(0);
    EXPECT_EQ(store->collect_garbage(o).blobs, 0u);
  }
  std::cerr << "gc crash test: a whole run took " << full.count() / 1000 << " ms; " << orphans << " orphan blobs over " << kRounds << " rounds, " << killed
            << " killed, " << partial << " killed mid-sweep, " << referenced.size() << " blobs referenced\n";
}

// The same on the PostgreSQL store: the real `drawbridge gc --store postgres`, SIGKILLed while it
// deletes batches of unreferenced blob rows (what the server rolls back of an interrupted
// transaction must leave every referenced blob row in place).
TEST(DrawbridgeGcCrash, SigkillDuringGcOnPostgresLosesNothingReferenced) {
  ENARX_REQUIRE_PG();
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  TempDir tmp("drawbridge-gc-crash-pg");
  const auto log = tmp.path() / "gc.log";
  const auto conninfo = pgtest::shared_cluster().new_database();
  std::mt19937_64 rng(4343);
  CompleteTags complete;
  {
    auto store = open_postgres_store(conninfo, 2);
    publish_complete_tags(*store, rng, 4, complete);
    if (HasFatalFailure()) return;
  }
  pqxx::connection db(conninfo);
  // What crashed uploads leave: blob rows no node references (generated by the server, many).
  const auto add_garbage = [&](int n, int round) {
    pqxx::work w(db);
    w.exec_params("INSERT INTO drawbridge_blobs(key, data) SELECT encode(sha256(d), 'hex'), d FROM "
                  "(SELECT convert_to(repeat(md5($1 || g::text), 20), 'UTF8') AS d FROM generate_series(1, $2) g) s "
                  "ON CONFLICT DO NOTHING",
                  std::to_string(round), n);
    w.commit();
  };
  const auto count = [&](const char* sql) {
    pqxx::work w(db);
    return w.exec(sql)[0][0].as<std::int64_t>();
  };
  const auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    EXPECT_EQ(count("SELECT COUNT(*) FROM drawbridge_nodes n WHERE n.present AND NOT EXISTS "
                    "(SELECT 1 FROM drawbridge_blobs b WHERE b.key = n.blob)"),
              0)
        << "a referenced blob row is missing";
    EXPECT_EQ(count("SELECT COUNT(*) FROM drawbridge_blobs WHERE key <> encode(sha256(data), 'hex')"), 0);
    auto store = open_postgres_store(conninfo, 1);
    expect_tags_intact(*store, complete);
    if (HasFatalFailure()) return;
  };
  add_garbage(5000, 0);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_gc(tmp.path(), log, kNoKill, conninfo).exit_code, 0) << "see " << log;
  const auto full = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  check("after a whole run");
  int killed = 0, partial = 0;
  for (int round = 1; round <= 6; ++round) {
    add_garbage(5000, round);
    const auto before = count("SELECT COUNT(*) FROM drawbridge_blobs");
    // As for SQLite: odd rounds at a random time, even rounds as soon as a batch of deletions
    // has committed (seen from another connection), whatever the machine's speed or load.
    KillAt kill;
    if (round % 2 == 1) {
      kill = kill_after(std::chrono::microseconds(full.count() / 5 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(full.count()))));
    } else {
      kill.condition = [&] { return count("SELECT COUNT(*) FROM drawbridge_blobs") < before; };
    }
    const auto run = run_gc(tmp.path(), log, kill, conninfo);
    killed += run.killed;
    const auto after = count("SELECT COUNT(*) FROM drawbridge_blobs");
    if (run.killed && after < before) ++partial;
    if (!run.killed) {
      EXPECT_EQ(run.exit_code, 0) << "see " << log;
    }
    check("after round " + std::to_string(round) + (run.killed ? " (killed)" : " (finished)"));
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(killed, 0) << "no run was killed";
  EXPECT_GT(partial, 0) << "no kill landed after a batch was committed";
  ASSERT_EQ(run_gc(tmp.path(), log, kNoKill, conninfo).exit_code, 0) << "see " << log;
  check("after the final run");
  EXPECT_EQ(count("SELECT COUNT(*) FROM drawbridge_blobs b WHERE NOT EXISTS "
                  "(SELECT 1 FROM drawbridge_nodes n WHERE n.present AND n.blob = b.key)"),
            0);
  std::cerr << "gc crash test (PostgreSQL): a whole run took " << full.count() / 1000 << " ms; " << killed
            << " killed, " << partial << " after some batches were committed\n";
}

}  // namespace
