// The scale-out back end: every steward replica points at the same PostgreSQL database.
//
// Consistency across replicas (READ COMMITTED, with explicit locks where a decision is read and
// then written):
//   * revocations lock the one revocation-epoch row (SELECT ... FOR UPDATE) before looking at
//     what is revoked, so they run one at a time across replicas: a serial is revoked once (the
//     first record stands) and the epoch is strictly increasing;
//   * publish_crl is one UPDATE ... WHERE number = expected: a second racer waits for the
//     first's row lock, re-checks the condition on the committed row and updates nothing;
//   * every audit append takes a transaction-scoped advisory lock, so audit ids are committed in
//     increasing order and a reader following "id > last seen" misses none; a transaction that
//     takes both it and the epoch row takes the advisory lock first;
//   * record_issued is one INSERT ... ON CONFLICT DO NOTHING on the serial's primary key per
//     row. It and revoke_matching hold the audit lock for their whole transaction, so they take
//     turns: a selector revocation either committed before the insert began (which then reads
//     it, and revokes the rows it covers) or scans after the insert committed.
// Schema creation runs under an advisory lock, so replicas starting together create it once.
// Connections come from a small pool; each has a statement timeout, so no call waits forever.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>

#include <pqxx/pqxx>

#include "core/error.h"
#include "steward/index/cert_index.h"
#include "steward/index/group_commit.h"
#include "steward/index/index_detail.h"

namespace enarx::steward {
namespace {

using namespace index_detail;

constexpr int kPoolSize = 8;
constexpr const char* kConnectTimeoutSeconds = "10";
constexpr const char* kStatementTimeoutMs = "30000";
// pg_advisory_xact_lock keys ("steward index" 1 and 2); drawbridge uses 7273120.
constexpr std::int64_t kSchemaLock = 5489310001;
constexpr std::int64_t kAuditLock = 5489310002;

[[noreturn]] void unavailable(const std::string& what) {
  throw Error(ErrorKind::kUnavailable, "steward.index.unavailable", "certificate index (PostgreSQL): " + what);
}

// libpq waits for a connection without limit unless told otherwise.
std::string with_connect_timeout(const std::string& conninfo) {
  if (conninfo.find("connect_timeout") != std::string::npos) return conninfo;
  const bool url = conninfo.find("://") != std::string::npos;
  if (!url) return conninfo + " connect_timeout=" + kConnectTimeoutSeconds;
  return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" +
         kConnectTimeoutSeconds;
}

using Conn = pqxx::connection;
// Prepared on every connection: a whole group's certificates, then its audit records, each in
// one statement (arrays, one element per row), so a group costs the same few round trips
// whatever its size. Each round trip is a wait for the server, and the committer's throughput
// was those waits (2 per certificate) where the database is not on steward's host.
constexpr const char* kInsertCertificates = "steward_insert_certificates";
constexpr const char* kInsertAudit = "steward_insert_audit";

// PostgreSQL array literals (the text input form of text[], bigint[] and boolean[]).
class ArrayLiteral {
 public:
  void add_text(std::string_view v) {
    open_element();
    out_.push_back('"');
    for (char ch : v) {
      if (ch == '"' || ch == '\\') out_.push_back('\\');
      out_.push_back(ch);
    }
    out_.push_back('"');
  }
  void add_int(std::int64_t v) {
    open_element();
    out_ += std::to_string(v);
  }
  void add_bool(bool v) {
    open_element();
    out_.push_back(v ? 't' : 'f');
  }
  std::string take() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void open_element() {
    if (out_.size() > 1) out_.push_back(',');
  }
  std::string out_ = "{";
};

// A bytea[] in PostgreSQL's binary array format (what array_recv reads): sent as a binary
// parameter, so the DERs cross as they are, with no hex text to write here and parse there.
class ByteaArray {
 public:
  explicit ByteaArray(std::size_t count) {
    put(1);      // dimensions
    put(0);      // no NULL elements
    put(17);     // element type: bytea's OID
    put(static_cast<std::uint32_t>(count));
    put(1);      // lower bound
  }
  void add(ByteView v) {
    put(static_cast<std::uint32_t>(v.size()));
    out_.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  ByteView bytes() const { return as_bytes(out_); }

 private:
  void put(std::uint32_t v) {
    const char be[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                        static_cast<char>(v)};
    out_.append(be, 4);
  }
  std::string out_;
};

class Pool {
 public:
  Pool(std::string conninfo, int size) : conninfo_(std::move(conninfo)), free_slots_(size) {}

  class Lease {
   public:
    explicit Lease(Pool& pool) : pool_(pool), conn_(pool.take()) {}
    ~Lease() { pool_.give_back(std::move(conn_), broken_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Conn& operator*() { return *conn_; }
    void mark_broken() { broken_ = true; }

   private:
    Pool& pool_;
    std::unique_ptr<Conn> conn_;
    bool broken_ = false;
  };

 private:
  std::unique_ptr<Conn> take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || free_slots_ > 0; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.front());
      idle_.pop_front();
      return c;
    }
    --free_slots_;
    lock.unlock();
    try {
      auto c = std::make_unique<Conn>(conninfo_);
      c->set_variable("statement_timeout", kStatementTimeoutMs);
      // Issuance's inserts, parsed and planned once per connection.
      c->prepare(kInsertCertificates,
                 std::string("INSERT INTO steward_certificates(") + kCertColumns +
                     ") SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], "
                     "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
                     "$13::text[], $14::text[], $15::text[], $16::text[], $17::boolean[], $18::text[], $19::bytea[]) "
                     "ON CONFLICT (serial) DO NOTHING");
      // In the arrays' order, so ids follow the group's order as one insert per record did.
      c->prepare(kInsertAudit,
                 "INSERT INTO steward_audit(at_ns, record) SELECT at_ns, record FROM "
                 "unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(at_ns, record, n) ORDER BY n");
      return c;
    } catch (const std::exception& e) {
      std::lock_guard relock(mu_);
      ++free_slots_;
      cv_.notify_one();
      unavailable(std::string("connection failed: ") + e.what());
    }
  }

  void give_back(std::unique_ptr<Conn> c, bool broken) {
    std::lock_guard lock(mu_);
    if (broken || !c || !c->is_open()) ++free_slots_;
    else idle_.push_back(std::move(c));
    cv_.notify_one();
  }

  std::string conninfo_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Conn>> idle_;
  int free_slots_;
};

pqxx::binarystring bin(ByteView v) { return pqxx::binarystring(v.data(), v.size()); }

Bytes bytes_of(const pqxx::field& f) {
  if (f.is_null()) return {};
  pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}

std::string str(std::string_view s) { return std::string(s); }

std::vector<std::string> text_params(const std::vector<Param>& params) {
  std::vector<std::string> out;
  out.reserve(params.size());
  for (const auto& p : params) {
    if (const auto* n = std::get_if<std::int64_t>(&p)) out.push_back(std::to_string(*n));
    else out.push_back(std::get<std::string>(p));
  }
  return out;
}

IssuedCertificate read_certificate(const pqxx::row& r) {
  IssuedCertificate c;
  c.serial = r[0].as<std::string>();
  c.issued_at = from_ns(r[1].as<std::int64_t>());
  c.not_before = from_ns(r[2].as<std::int64_t>());
  c.not_after = from_ns(r[3].as<std::int64_t>());
  c.sans = strings_from_json(r[4].as<std::string>());
  c.platform = r[5].as<std::string>();
  c.measurement = r[6].as<std::string>();
  c.signer = r[7].as<std::string>();
  c.tcb_status = r[8].as<std::string>();
  c.tcb_level = r[9].as<std::string>();
  c.chip_id = r[10].as<std::string>();
  c.ppid = r[11].as<std::string>();
  c.fmspc = r[12].as<std::string>();
  c.keep_identity = r[13].as<std::string>();
  c.policy_digest = r[14].as<std::string>();
  c.collateral_digests = strings_from_json(r[15].as<std::string>());
  c.insecure = r[16].as<bool>();
  c.issued_by = r[17].as<std::string>();
  c.der = bytes_of(r[18]);
  return c;
}

RevocationRecord read_revocation(const pqxx::row& r) {
  RevocationRecord rec;
  rec.serial = r[0].as<std::string>();
  rec.revoked_at = from_ns(r[1].as<std::int64_t>());
  rec.reason = reason_from_code(r[2].as<std::int64_t>());
  rec.detail = r[3].as<std::string>();
  rec.revoked_by = r[4].as<std::string>();
  return rec;
}

// Numeric order of serials without leading zeros: shorter first, then by digits.
void sort_serials(std::vector<std::string>& serials) {
  std::sort(serials.begin(), serials.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
}

class PgCertIndex final : public CertIndex {
 public:
  using CertIndex::revoke;  // and the one-argument form
  explicit PgCertIndex(const std::string& conninfo) : pool_(with_connect_timeout(conninfo), kPoolSize) {
    int found = 0;
    try {
      found = run([](pqxx::work& w) { return create_schema(w); });
    } catch (const Error& e) {
      throw Error(ErrorKind::kUnavailable, "steward.index.open",
                  "cannot open the certificate index in PostgreSQL: " + e.describe());
    }
    if (found > kSchemaVersion)
      throw Error(ErrorKind::kUnavailable, "steward.index.schema_too_new",
                  "the certificate index in PostgreSQL has schema version " + std::to_string(found) +
                      "; this steward knows versions up to " + std::to_string(kSchemaVersion));
  }

  std::vector<RevocationRecord> record_issued(std::span<const IssuedCertificate> certs,
                                              std::span<const nlohmann::json> audit) override {
    for (const auto& c : certs) check_certificate(c);
    return group_.submit(certs, audit);
  }

  void record_issued_async(std::span<const IssuedCertificate> certs, std::span<const nlohmann::json> audit,
                           IssuedCompletion done) override {
    submit_checked_async(group_, certs, audit, std::move(done));
  }

  std::optional<IssuedCertificate> find(std::string_view serial) const override {
    check_serial(serial);
    return run([&](pqxx::work& w) -> std::optional<IssuedCertificate> {
      auto r = w.exec_params(std::string("SELECT ") + kCertColumns + " FROM steward_certificates WHERE serial = $1",
                             str(serial));
      if (r.empty()) return std::nullopt;
      return read_certificate(r[0]);
    });
  }

  std::vector<IssuedCertificate> list(const CertSelector& selector, TimePoint now, bool include_revoked,
                                      std::size_t limit, std::string_view after) const override {
    check_selector(selector, false);
    check_limit(limit, kMaxListLimit);
    if (!after.empty()) check_serial(after);
    if (limit == 0) return {};
    return run([&](pqxx::work& w) {
      Query q(true);
      q.sql = std::string("SELECT ") + kCertColumns + " FROM steward_certificates c WHERE c.not_after_ns > " +
              q.bind(to_ns(now));
      if (!after.empty()) {
        // Certificates are never changed or removed: the cursor row is the same in any snapshot.
        auto cur = w.exec_params("SELECT issued_at_ns FROM steward_certificates WHERE serial = $1", str(after));
        require(!cur.empty(), ErrorKind::kInvalidInput, "steward.index.bad_cursor",
                "no certificate with serial " + std::string(after) + " to list after");
        const auto t = q.bind(cur[0][0].as<std::int64_t>());
        const auto s = q.bind(std::string(after));
        q.sql += " AND (c.issued_at_ns > " + t + " OR (c.issued_at_ns = " + t + " AND c.serial > " + s + "))";
      }
      if (!include_revoked)
        q.sql += " AND NOT EXISTS (SELECT 1 FROM steward_revocations r WHERE r.serial = c.serial)";
      append_selector(q, selector, "c");
      q.sql += " ORDER BY c.issued_at_ns, c.serial LIMIT " + q.bind(static_cast<std::int64_t>(limit));
      const auto params = text_params(q.params);
      auto r = w.exec_params(q.sql, pqxx::prepare::make_dynamic_params(params));
      std::vector<IssuedCertificate> out;
      out.reserve(r.size());
      for (const auto& row : r) out.push_back(read_certificate(row));
      return out;
    });
  }

  std::size_t count_issued() const override {
    return run([](pqxx::work& w) {
      return static_cast<std::size_t>(w.exec("SELECT COUNT(*) FROM steward_certificates")[0][0].as<std::int64_t>());
    });
  }

  std::size_t prune_expired(TimePoint expired_before, std::size_t limit) override {
    check_limit(limit, kMaxPruneLimit);
    if (limit == 0) return 0;
    return run([&](pqxx::work& w) {
      w.exec_params("DELETE FROM steward_selector_revocations WHERE revoked_at_ns < $1", to_ns(expired_before));
      // One statement: the batch is chosen and deleted with its revocation rows at once
      // (rows another replica deletes concurrently are skipped, not waited for).
      auto r = w.exec_params(
          "WITH batch AS (SELECT serial FROM steward_certificates WHERE not_after_ns < $1 "
          "ORDER BY not_after_ns LIMIT $2 FOR UPDATE SKIP LOCKED), "
          "gone AS (DELETE FROM steward_revocations WHERE serial IN (SELECT serial FROM batch)) "
          "DELETE FROM steward_certificates WHERE serial IN (SELECT serial FROM batch)",
          to_ns(expired_before), static_cast<std::int64_t>(limit));
      return static_cast<std::size_t>(r.affected_rows());
    });
  }

  bool revoke(const RevocationRecord& record, const nlohmann::json& audit) override {
    check_serial(record.serial);
    check_reason(record.reason);
    check_revocation_text(record);
    const std::string audit_text = audit_to_text(audit);
    return run([&](pqxx::work& w) {
      if (w.exec_params("SELECT 1 FROM steward_certificates WHERE serial = $1", record.serial).empty()) return false;
      // Locks in the order every writer takes them: the audit lock, then the epoch row.
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kAuditLock);
      const auto epoch = lock_epoch(w);
      if (!w.exec_params("SELECT 1 FROM steward_revocations WHERE serial = $1", record.serial).empty())
        return true;  // the first revocation stands
      insert_revocation(w, record, epoch + 1);
      w.exec_params("UPDATE steward_revocation_epoch SET value = $1 WHERE id = 1", epoch + 1);
      insert_audit_row(w, record.revoked_at, audit_text);  // the audit lock is held
      return true;
    });
  }

  std::vector<std::string> revoke_matching(const CertSelector& selector, const RevocationRecord& how,
                                           TimePoint now) override {
    check_selector(selector, true);
    check_reason(how.reason);
    check_revocation_text(how);
    return run([&](pqxx::work& w) {
      // Taken in the same order as insert(): the audit lock, then the epoch row.
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kAuditLock);
      const auto epoch = lock_epoch(w);
      // For the issuances in flight: they commit after this scan (insert() reads this table).
      w.exec_params(
          "INSERT INTO steward_selector_revocations(revoked_at_ns, selector, reason, detail, revoked_by) "
          "VALUES($1,$2,$3,$4,$5)",
          to_ns(how.revoked_at), selector_to_json(selector), static_cast<int>(how.reason), how.detail,
          how.revoked_by);
      Query q(true);
      q.sql = "INSERT INTO steward_revocations(serial, revoked_at_ns, reason, detail, revoked_by, epoch) "
              "SELECT c.serial, " + q.bind(to_ns(how.revoked_at)) + "::bigint, " +
              q.bind(static_cast<std::int64_t>(how.reason)) + "::smallint, " + q.bind(how.detail) + "::text, " +
              q.bind(how.revoked_by) + "::text, " + q.bind(epoch + 1) +
              "::bigint FROM steward_certificates c WHERE c.not_after_ns > " + q.bind(to_ns(now)) +
              " AND NOT EXISTS (SELECT 1 FROM steward_revocations r WHERE r.serial = c.serial)";
      append_selector(q, selector, "c");
      q.sql += " ORDER BY length(c.serial), c.serial LIMIT " +
               q.bind(static_cast<std::int64_t>(kMaxRevocationsListed + 1)) + " RETURNING serial";
      const auto params = text_params(q.params);
      auto r = w.exec_params(q.sql, pqxx::prepare::make_dynamic_params(params));
      // Over the bound: thrown inside the transaction, so nothing is revoked.
      require(r.size() <= kMaxRevocationsListed, ErrorKind::kResourceExhausted, "steward.index.too_many",
              "the selector matches more than " + std::to_string(kMaxRevocationsListed) +
                  " certificates; nothing was revoked");
      std::vector<std::string> serials;
      serials.reserve(r.size());
      for (const auto& row : r) serials.push_back(row[0].as<std::string>());
      if (!serials.empty()) w.exec_params("UPDATE steward_revocation_epoch SET value = $1 WHERE id = 1", epoch + 1);
      sort_serials(serials);
      for (const auto& serial : serials) {
        RevocationRecord one = how;
        one.serial = serial;
        insert_audit_row(w, how.revoked_at, audit_to_text(revocation_audit_record(one)));  // lock held
      }
      return serials;
    });
  }

  std::optional<RevocationRecord> revocation(std::string_view serial) const override {
    check_serial(serial);
    return run([&](pqxx::work& w) -> std::optional<RevocationRecord> {
      auto r = w.exec_params(
          "SELECT serial, revoked_at_ns, reason, detail, revoked_by FROM steward_revocations WHERE serial = $1",
          str(serial));
      if (r.empty()) return std::nullopt;
      return read_revocation(r[0]);
    });
  }

  std::vector<RevocationRecord> revoked_unexpired(TimePoint now) const override {
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT r.serial, r.revoked_at_ns, r.reason, r.detail, r.revoked_by FROM steward_revocations r "
          "JOIN steward_certificates c ON c.serial = r.serial WHERE c.not_after_ns > $1 "
          "ORDER BY length(r.serial), r.serial LIMIT $2",
          to_ns(now), static_cast<std::int64_t>(kMaxRevocationsListed + 1));
      require(r.size() <= kMaxRevocationsListed, ErrorKind::kResourceExhausted, "steward.index.too_many",
              "more than " + std::to_string(kMaxRevocationsListed) + " unexpired revoked certificates");
      std::vector<RevocationRecord> out;
      out.reserve(r.size());
      for (const auto& row : r) out.push_back(read_revocation(row));
      return out;
    });
  }

  std::uint64_t revocation_epoch() const override {
    return run([](pqxx::work& w) {
      auto r = w.exec("SELECT value FROM steward_revocation_epoch WHERE id = 1");
      if (r.empty()) corrupt("the revocation epoch row is missing");
      return static_cast<std::uint64_t>(r[0][0].as<std::int64_t>());
    });
  }

  std::optional<CrlRecord> current_crl() const override {
    return run([](pqxx::work& w) -> std::optional<CrlRecord> {
      auto r = w.exec(
          "SELECT number, revocation_epoch, this_update_ns, next_update_ns, der FROM steward_crl WHERE id = 1");
      if (r.empty()) corrupt("the CRL row is missing");
      if (r[0][0].as<std::int64_t>() == 0) return std::nullopt;
      CrlRecord c;
      c.number = static_cast<std::uint64_t>(r[0][0].as<std::int64_t>());
      c.revocation_epoch = static_cast<std::uint64_t>(r[0][1].as<std::int64_t>());
      c.this_update = from_ns(r[0][2].as<std::int64_t>());
      c.next_update = from_ns(r[0][3].as<std::int64_t>());
      c.der = bytes_of(r[0][4]);
      return c;
    });
  }

  bool publish_crl(std::uint64_t expected_number, const CrlRecord& next) override {
    check_crl(next);
    if (next.number <= expected_number) return false;  // so expected_number < 2^63 too
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "UPDATE steward_crl SET number = $1, revocation_epoch = $2, this_update_ns = $3, next_update_ns = $4, "
          "der = $5 WHERE id = 1 AND number = $6",
          static_cast<std::int64_t>(next.number), static_cast<std::int64_t>(next.revocation_epoch),
          to_ns(next.this_update), to_ns(next.next_update), bin(next.der), static_cast<std::int64_t>(expected_number));
      return r.affected_rows() == 1;
    });
  }

  void append_audit(TimePoint at, const nlohmann::json& record) override {
    const std::string text = audit_to_text(record);
    run([&](pqxx::work& w) {
      append_audit_row(w, at, text);
      return 0;
    });
  }

  std::vector<AuditEntry> audit_entries(std::int64_t after_id, std::size_t limit) const override {
    check_limit(limit, kMaxAuditLimit);
    if (limit == 0) return {};
    return run([&](pqxx::work& w) {
      auto r = w.exec_params(
          "SELECT id, at_ns, record FROM (SELECT id, at_ns, record FROM steward_audit WHERE id > $1 "
          "ORDER BY id DESC LIMIT $2) newest ORDER BY id",
          after_id, static_cast<std::int64_t>(limit));
      std::vector<AuditEntry> out;
      out.reserve(r.size());
      for (const auto& row : r)
        out.push_back({row[0].as<std::int64_t>(), from_ns(row[1].as<std::int64_t>()),
                       audit_from_text(row[2].as<std::string>())});
      return out;
    });
  }

 private:
  // Appends to the audit trail under the audit lock (held to commit, and taken again at no cost
  // by a transaction that holds it), so ids are committed in increasing order across replicas
  // and a reader following "id > last seen" misses none.
  static void append_audit_row(pqxx::work& w, TimePoint at, const std::string& text) {
    w.exec_params("SELECT pg_advisory_xact_lock($1)", kAuditLock);
    insert_audit_row(w, at, text);
  }
  // The same inside a transaction that already holds the audit lock (insert(): one statement
  // less per record on the issuance path).
  static void insert_audit_row(pqxx::work& w, TimePoint at, const std::string& text) {
    w.exec_params("INSERT INTO steward_audit(at_ns, record) VALUES($1, $2)", to_ns(at), text);
  }

  // Under the epoch row's lock: `record` as revocation number `epoch`.
  static void insert_revocation(pqxx::work& w, const RevocationRecord& record, std::int64_t epoch) {
    w.exec_params(
        "INSERT INTO steward_revocations(serial, revoked_at_ns, reason, detail, revoked_by, epoch) "
        "VALUES($1,$2,$3,$4,$5,$6)",
        record.serial, to_ns(record.revoked_at), static_cast<int>(record.reason), record.detail,
        record.revoked_by, epoch);
  }

  // Locks the revocation epoch row until commit (every revocation does, first) and returns it.
  static std::int64_t lock_epoch(pqxx::work& w) {
    auto r = w.exec("SELECT value FROM steward_revocation_epoch WHERE id = 1 FOR UPDATE");
    if (r.empty()) corrupt("the revocation epoch row is missing");
    return r[0][0].as<std::int64_t>();
  }

  // Creates the schema or upgrades an older one; returns the version found (nothing is written
  // when it is newer than ours).
  static int create_schema(pqxx::work& w) {
    w.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLock);
    w.exec("CREATE TABLE IF NOT EXISTS steward_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    int version = 0;
    auto v = w.exec("SELECT value FROM steward_meta WHERE key = 'schema_version'");
    if (!v.empty()) {
      const auto text = v[0][0].as<std::string>();
      try {
        version = std::stoi(text);
      } catch (const std::exception&) {
        corrupt("schema_version is " + text);
      }
    }
    if (version > kSchemaVersion) return version;  // too new: nothing written
    if (version < 1) {
      w.exec(R"sql(
        CREATE TABLE IF NOT EXISTS steward_certificates(
          serial TEXT COLLATE "C" PRIMARY KEY,
          issued_at_ns BIGINT NOT NULL, not_before_ns BIGINT NOT NULL, not_after_ns BIGINT NOT NULL,
          sans TEXT NOT NULL, platform TEXT NOT NULL, measurement TEXT NOT NULL, signer TEXT NOT NULL,
          tcb_status TEXT NOT NULL, tcb_level TEXT NOT NULL, chip_id TEXT NOT NULL, ppid TEXT NOT NULL,
          fmspc TEXT NOT NULL, keep_identity TEXT NOT NULL, policy_digest TEXT NOT NULL,
          collateral_digests TEXT NOT NULL, insecure BOOLEAN NOT NULL, issued_by TEXT NOT NULL,
          der BYTEA NOT NULL);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_issued ON steward_certificates(issued_at_ns, serial);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_not_after ON steward_certificates(not_after_ns);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_platform ON steward_certificates(platform);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_measurement ON steward_certificates(measurement);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_signer ON steward_certificates(signer);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_chip_id ON steward_certificates(chip_id);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_ppid ON steward_certificates(ppid);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_fmspc ON steward_certificates(fmspc, tcb_status);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_tcb_status ON steward_certificates(tcb_status);
        CREATE INDEX IF NOT EXISTS steward_certificates_by_keep_identity ON steward_certificates(keep_identity);
        CREATE TABLE IF NOT EXISTS steward_revocations(
          serial TEXT COLLATE "C" PRIMARY KEY REFERENCES steward_certificates(serial),
          revoked_at_ns BIGINT NOT NULL, reason SMALLINT NOT NULL, detail TEXT NOT NULL,
          revoked_by TEXT NOT NULL, epoch BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS steward_revocation_epoch(
          id SMALLINT PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
        INSERT INTO steward_revocation_epoch VALUES(1, 0) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS steward_crl(
          id SMALLINT PRIMARY KEY CHECK (id = 1), number BIGINT NOT NULL,
          revocation_epoch BIGINT NOT NULL, this_update_ns BIGINT NOT NULL,
          next_update_ns BIGINT NOT NULL, der BYTEA);
        INSERT INTO steward_crl VALUES(1, 0, 0, 0, 0, NULL) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS steward_audit(
          id BIGSERIAL PRIMARY KEY, at_ns BIGINT NOT NULL, record TEXT NOT NULL);
        INSERT INTO steward_meta VALUES('schema_version', '1');
      )sql");
    }
    if (version < 2) {
      w.exec(R"sql(
        DROP INDEX IF EXISTS steward_certificates_by_platform;
        DROP INDEX IF EXISTS steward_certificates_by_tcb_status;
        DROP INDEX IF EXISTS steward_certificates_by_chip_id;
        DROP INDEX IF EXISTS steward_certificates_by_ppid;
        DROP INDEX IF EXISTS steward_certificates_by_fmspc;
        DROP INDEX IF EXISTS steward_certificates_by_keep_identity;
        CREATE INDEX IF NOT EXISTS steward_certificates_by_chip_id_set ON steward_certificates(chip_id)
          WHERE chip_id <> '';
        CREATE INDEX IF NOT EXISTS steward_certificates_by_ppid_set ON steward_certificates(ppid) WHERE ppid <> '';
        CREATE INDEX IF NOT EXISTS steward_certificates_by_fmspc_set ON steward_certificates(fmspc, tcb_status)
          WHERE fmspc <> '';
        CREATE INDEX IF NOT EXISTS steward_certificates_by_keep_identity_set ON steward_certificates(keep_identity)
          WHERE keep_identity <> '';
        UPDATE steward_meta SET value = '2' WHERE key = 'schema_version';
      )sql");
    }
    if (version < 3) {
      w.exec(R"sql(
        CREATE TABLE IF NOT EXISTS steward_selector_revocations(
          id BIGSERIAL PRIMARY KEY, revoked_at_ns BIGINT NOT NULL, selector TEXT NOT NULL,
          reason SMALLINT NOT NULL, detail TEXT NOT NULL, revoked_by TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS steward_selector_revocations_by_time
          ON steward_selector_revocations(revoked_at_ns);
        UPDATE steward_meta SET value = '3' WHERE key = 'schema_version';
      )sql");
    }
    // Later versions: `if (version < 4) { ...; UPDATE steward_meta SET value = '4' ...; }`.
    // The DER column without pglz, PostgreSQL's default TOAST compression: compressing every
    // 6 KB DER with it was a third of the server's CPU per certificate (132-145 against 86-96
    // us with lz4, docs/steward.md "The index's cost"). lz4 where the server has it (14+, built
    // with it), else stored uncompressed. Applies to values written from now on; changed once.
    w.exec(R"sql(
      DO $$
      BEGIN
        IF current_setting('server_version_num')::int >= 140000 THEN
          IF (SELECT attcompression FROM pg_attribute
              WHERE attrelid = 'steward_certificates'::regclass AND attname = 'der') = 'l' THEN
            RETURN;
          END IF;
          BEGIN
            EXECUTE 'ALTER TABLE steward_certificates ALTER COLUMN der SET COMPRESSION lz4';
            RETURN;
          EXCEPTION WHEN feature_not_supported THEN
            NULL;  -- built without lz4
          END;
        END IF;
        IF (SELECT attstorage FROM pg_attribute
            WHERE attrelid = 'steward_certificates'::regclass AND attname = 'der') <> 'e' THEN
          EXECUTE 'ALTER TABLE steward_certificates ALTER COLUMN der SET STORAGE EXTERNAL';
        END IF;
      END
      $$)sql");
    return version;
  }

  // One transaction on a pooled connection. Serialization failures and deadlocks are retried
  // (the transaction was rolled back); a lost connection before commit too. A commit whose
  // outcome is unknown is not retried (record_issued would then see its own row as a duplicate).
  template <typename F>
  auto run(F&& f) const -> decltype(f(std::declval<pqxx::work&>())) {
    for (int attempt = 0;; ++attempt) {
      Pool::Lease lease(pool_);
      try {
        pqxx::work w(*lease);
        auto result = f(w);
        w.commit();
        return result;
      } catch (const Error&) {
        throw;
      } catch (const pqxx::in_doubt_error& e) {
        lease.mark_broken();
        unavailable(std::string("commit outcome unknown: ") + e.what());
      } catch (const pqxx::statement_completion_unknown& e) {
        lease.mark_broken();
        unavailable(std::string("statement outcome unknown: ") + e.what());
      } catch (const pqxx::broken_connection& e) {
        lease.mark_broken();
        if (attempt >= 2) unavailable(e.what());
      } catch (const pqxx::transaction_rollback& e) {
        if (attempt >= 5) unavailable(e.what());
      } catch (const pqxx::sql_error& e) {
        const std::string& state = e.sqlstate();
        if ((state == "40001" || state == "40P01") && attempt < 5) continue;
        // Class 22 (data), 23 (integrity), 42 (syntax, undefined objects): a statement this code
        // got wrong. Anything else (timeouts, disk full, shutdown, ...): not available now.
        const std::string cls = state.substr(0, 2);
        if (cls == "22" || cls == "23" || cls == "42")
          throw Error(ErrorKind::kInternal, "steward.index.backend", std::string("PostgreSQL: ") + e.what());
        unavailable(e.what());
      } catch (const std::exception& e) {
        lease.mark_broken();
        unavailable(e.what());
      }
    }
  }

  // One group of rows (GroupCommit): one transaction, one WAL flush at commit.
  std::vector<RevocationRecord> insert(std::span<const IssuedCertificate* const> rows,
                                       std::span<const GroupCommit::AuditRecord> audit) {
    return run([&](pqxx::work& w) {
      // Held to commit: audit ids are committed in increasing order across replicas (as
      // append_audit), and revoke_matching waits for this transaction or this one for it.
      w.exec_params("SELECT pg_advisory_xact_lock($1)", kAuditLock);
      TimePoint earliest = TimePoint::max();
      ArrayLiteral col[18];
      ByteaArray ders(rows.size());
      for (const IssuedCertificate* row : rows) {
        const IssuedCertificate& c = *row;
        col[0].add_text(c.serial);
        col[1].add_int(to_ns(c.issued_at));
        col[2].add_int(to_ns(c.not_before));
        col[3].add_int(to_ns(c.not_after));
        col[4].add_text(strings_to_json(c.sans));
        col[5].add_text(c.platform);
        col[6].add_text(c.measurement);
        col[7].add_text(c.signer);
        col[8].add_text(c.tcb_status);
        col[9].add_text(c.tcb_level);
        col[10].add_text(c.chip_id);
        col[11].add_text(c.ppid);
        col[12].add_text(c.fmspc);
        col[13].add_text(c.keep_identity);
        col[14].add_text(c.policy_digest);
        col[15].add_text(strings_to_json(c.collateral_digests));
        col[16].add_bool(c.insecure);
        col[17].add_text(c.issued_by);
        ders.add(c.der);
        earliest = std::min(earliest, c.issued_at);
      }
      std::string p[18];
      for (int i = 0; i < 18; ++i) p[i] = col[i].take();
      const auto inserted = w.exec_prepared(kInsertCertificates, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                                            p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17],
                                            bin(ders.bytes()));
      // Fewer rows than given: a serial already recorded (GroupCommit then writes each unit
      // alone, and only the one holding it fails).
      require(inserted.affected_rows() == rows.size(), ErrorKind::kConflict, "steward.index.duplicate_serial",
              rows.size() == 1 ? "serial " + rows.front()->serial + " is already recorded"
                               : "a serial of this group is already recorded");
      if (!audit.empty()) {
        ArrayLiteral at, text;
        for (const auto& a : audit) {
          at.add_int(to_ns(a.at));
          text.add_text(audit_to_text(*a.record));
        }
        w.exec_prepared(kInsertAudit, at.take(), text.take());
      }
      // A later statement than the lock, so its snapshot holds every revoke_matching committed
      // before the lock was granted.
      std::vector<SelectorRevocation> made;
      for (const auto& s : w.exec_params(
               "SELECT selector, revoked_at_ns, reason, detail, revoked_by FROM steward_selector_revocations "
               "WHERE revoked_at_ns >= $1 ORDER BY id",
               to_ns(earliest)))
        made.push_back({selector_from_json(s[0].as<std::string>()),
                        RevocationRecord{"", from_ns(s[1].as<std::int64_t>()), reason_from_code(s[2].as<std::int64_t>()),
                                         s[3].as<std::string>(), s[4].as<std::string>()}});
      auto revoked = revocations_in_flight(rows, made);
      if (!revoked.empty()) {
        const auto epoch = lock_epoch(w) + 1;
        for (const auto& r : revoked) {
          insert_revocation(w, r, epoch);
          insert_audit_row(w, r.revoked_at, audit_to_text(revocation_in_flight_audit(r)));
        }
        w.exec_params("UPDATE steward_revocation_epoch SET value = $1 WHERE id = 1", epoch);
      }
      return revoked;
    });
  }

  mutable Pool pool_;
  index_detail::GroupCommit group_{
      [this](std::span<const IssuedCertificate* const> rows, std::span<const GroupCommit::AuditRecord> audit) {
        return insert(rows, audit);
      }};
};

}  // namespace

std::shared_ptr<CertIndex> open_pg_cert_index(const std::string& url) {
  return std::make_shared<PgCertIndex>(url);
}

}  // namespace enarx::steward
