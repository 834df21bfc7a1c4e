// Registry storage. Two back ends implement it (embedded: blob directory + SQLite; shared:
// PostgreSQL) and are run by one conformance suite (tests/drawbridge/store_conformance_test.cc).
//
// Upload protocol ("no dangling trees"): a tag PUT creates a *pending* tag that expects exactly
// its root node. Every node PUT must match an expected entry (its parent directory already
// uploaded lists it); a directory node adds expectations for its children. The tag becomes
// *complete* — listed and readable — in the same transaction that stores its last expected
// node. A pending tag can be re-PUT: with the same root entry the upload *resumes* (the nodes
// already stored are kept, the tag id stays, the tag body is replaced — a re-signed JWS over the
// same root differs byte-wise); with a different root entry it *restarts* (its nodes are
// dropped, uploads for the old id get TagGone). A complete tag is immutable.
// All node contents live in content-addressed blobs, deduplicated across repositories.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/content_digest.h"
#include "core/error.h"

namespace enarx::drawbridge {

// Resumed: put_tag on a pending tag with the same root entry (nodes kept).
enum class PutResult { Created, Exists, Resumed };

struct StoredUser {
  std::string meta_json;  // canonical Meta JSON as served
  Bytes content;
  std::string subject;
  // The token issuer (`iss`) of the registering token: a user is owned by (issuer, subject).
  // nullopt for rows stored before issuers were recorded (see Registry for who owns them).
  std::optional<std::string> issuer;
};

struct StoredRepo {
  std::string meta_json;
  Bytes content;
  bool is_public = false;
};

struct StoredTag {
  std::int64_t id = 0;
  std::string meta_json;
  Bytes content;
  bool complete = false;
  // Hidden from listings, still served by exact name (docs/drawbridge.md "Yank and delete").
  bool yanked = false;
};

struct StoredNode {
  std::string entry_json;  // the expected entry (from the parent directory or the tag)
  bool present = false;
  std::string blob_key;  // lower-case hex SHA-256 of the content, when present
};

struct ChildExpectation {
  std::string path;
  std::string entry_json;
};

enum class NodePutResult { Created, Exists, NotExpected, TagGone };

// Sharing (docs/drawbridge.md "Sharing"): a repository's owner grants other registry users, or
// groups of their own, read or write access. A group belongs to a registry user (its owner),
// who manages its members; grantees and members are registry user names.
enum class Access { Read, Write };  // Write implies Read
enum class Grantee { User, Group };
std::string_view to_string(Access access);  // "read" / "write"
std::string_view to_string(Grantee kind);   // "user" / "group"

struct RepoGrant {
  Grantee kind = Grantee::User;
  std::string name;  // a user name, or the name of one of the repository owner's groups
  Access access = Access::Read;
};

// A registry user as a token may own it: the name, and the recorded issuer (nullopt for rows
// stored before issuers were recorded; the Registry decides who owns those).
struct UserRef {
  std::string name;
  std::optional<std::string> issuer;
};

struct NodePutOutcome {
  NodePutResult result = NodePutResult::Created;
  bool tag_completed = false;
};

// ---- yank, delete, audit, quotas: the types (docs/drawbridge.md "Yank and delete") ----
struct TagSummary {
  std::string name;
  bool yanked = false;
};

enum class YankResult { Changed, Unchanged, NotFound };  // NotFound: no such complete tag

// One registry audit event as the registry hands it to the store: who (the token's issuer and
// subject; empty for the operator), what, on which names, when (the registry's clock).
struct AuditEvent {
  std::string at;  // RFC 3339, UTC
  std::string action;  // publish, yank, unyank, delete_tag, delete_repo, repo_create, grant, ...
  std::string user, repo, tag;
  std::string actor_issuer, actor_subject;
  std::string detail;  // free-form (e.g. "write" for a grant); "" when nothing to add
};

// A stored event: its position in the log (strictly increasing in commit order) and the event.
struct AuditRecord {
  std::int64_t seq = 0;
  AuditEvent event;
};

// Charged to a repository's owner over all their repositories: `tags` counts complete and
// pending tags; `bytes` sums the declared lengths of every stored node of those tags (the
// directory nodes too), not deduplicated — what a user uploaded, whatever else is shared.
struct QuotaUsage {
  std::uint64_t bytes = 0;
  std::uint64_t tags = 0;
};

// The owner's limits a mutation must stay within (0 = unlimited). The store checks them inside
// the mutation's own transaction, serialized per owner with every other check of theirs, so
// that uploads racing each other cannot together take the owner past a limit (what a check
// before the transaction cannot promise; docs/drawbridge.md "Quotas").
struct QuotaLimits {
  std::uint64_t max_bytes = 0;
  std::uint64_t max_tags = 0;
};

// The refusals, raised by the registry's early checks and by the stores alike (kind
// policy_rejected, codes drawbridge.quota.bytes / drawbridge.quota.tags), the limit and the
// usage in the message.
Error quota_bytes_exceeded(std::string_view owner, std::uint64_t used, std::uint64_t max, std::uint64_t length);
Error quota_tags_reached(std::string_view owner, std::uint64_t used, std::uint64_t max);
// Whether `length` more bytes would take `used` past `max` (0 = unlimited).
inline bool exceeds_byte_quota(std::uint64_t used, std::uint64_t length, std::uint64_t max) {
  return max != 0 && (used > max || length > max - used);
}

// A node body on its way in: written to a temporary file as it arrives, its digests computed on
// the way, so that an upload never sits in memory. Made by Store::spool(); handed to
// Store::put_node_spooled() once the body is complete; the file is removed on destruction
// unless the store kept it. Write failures (a full disk) are recorded, not thrown, because
// writes happen on the HTTP server's I/O thread; finish() reports them.
class BlobSpool {
 public:
  // Creates an exclusive 0600 file in `dir`. Throws io errors (io.no_space for a full disk).
  BlobSpool(const std::filesystem::path& dir, std::vector<DigestAlgorithm> algorithms);
  ~BlobSpool();
  BlobSpool(const BlobSpool&) = delete;
  BlobSpool& operator=(const BlobSpool&) = delete;

  void write(ByteView data) noexcept;
  // Once the body is complete: the digests, or the first write failure thrown. Once only.
  ContentDigest finish();
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_; }
  // The store renamed the file into place: nothing to remove any more.
  void kept() { kept_ = true; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  DigestVerifier digests_;
  std::uint64_t size_ = 0;
  int error_ = 0;  // errno of the first failed write
  bool kept_ = false;
};

// ---- garbage collection (types) ----
// Store::collect_garbage (docs/drawbridge.md "Garbage collection"): drops pending tags not
// touched (created, resumed or given a node) for `pending_ttl`, then deletes the blobs no node
// row references. Safe against concurrent publishes, in this process and others.
inline constexpr std::chrono::seconds kDefaultPendingTtl{7 * 24 * 3600};
inline constexpr std::chrono::seconds kDefaultMinBlobAge{3600};

struct GcExpiredTag {
  std::string user, repo, tag;
};

struct GcBlob {
  std::string key;
  std::uint64_t bytes = 0;
};

struct GcOptions {
  std::chrono::seconds pending_ttl = kDefaultPendingTtl;
  // Nothing is changed; the report (and the callbacks) say what a real run would free.
  bool dry_run = false;
  // Blobs checked and swept per transaction: bounds memory and how long uploads wait.
  std::size_t batch_size = 1000;
  // Embedded store: blob files changed (written, linked, restored) less than this long ago are
  // kept. Not needed for safety (see SqliteStore), but without it a GC running back to back
  // can delete an upload's blob again each time the upload restores it. 0 (tests) disables it.
  // PostgreSQL ignores it: its uncommitted blob rows are invisible to GC.
  std::chrono::seconds min_blob_age = kDefaultMinBlobAge;
  // Called for each expired pending tag / freed blob (or that would be, on a dry run), so
  // that listing them costs no memory here.
  std::function<void(const GcExpiredTag&)> on_expired_tag;
  std::function<void(const GcBlob&)> on_blob;
  // Tests: called with a batch's candidates after they were found unreferenced and before
  // they are swept, so that a racing publish can be forced in between.
  std::function<void(const std::vector<std::string>& candidates)> before_sweep;
};

struct GcReport {
  std::uint64_t expired_tags = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;
  bool dry_run = false;
};

// Tests: interleavings of a node upload with garbage collection.
struct StoreTestHooks {
  // put_node/put_node_spooled, once the blob is stored or found already stored
  // (deduplicated) and before the node row referencing it is written.
  std::function<void(std::string_view blob_key)> before_node_reference;
};

class Store {
 public:
  virtual ~Store() = default;

  // A mutation given `audit` (non-null) appends it to the registry audit log in the same
  // transaction as its change, and only when it changed something (Created, removed, a tag
  // completed; put_grant also when it replaced a grant's access): the log neither misses a
  // change nor claims one that did not happen. (The defaults are for tests and callers without
  // a token; overrides are called through Store only.)

  virtual PutResult create_user(std::string_view user, std::string_view meta_json, ByteView content,
                                std::string_view issuer, std::string_view subject) = 0;
  virtual std::optional<StoredUser> get_user(std::string_view user) = 0;

  // Throws Error("drawbridge.store.no_user") if the user does not exist.
  virtual PutResult create_repo(std::string_view user, std::string_view repo,
                                std::string_view meta_json, ByteView content, bool is_public,
                                const AuditEvent* audit = nullptr) = 0;
  virtual std::optional<StoredRepo> get_repo(std::string_view user, std::string_view repo) = 0;
  // Replaces a repository's stored config (meta and content); whether it is public is not
  // changed. false when the repository does not exist.
  virtual bool replace_repo_config(std::string_view user, std::string_view repo, std::string_view meta_json,
                                   ByteView content) = 0;
  // (name, public), sorted by name.
  virtual std::vector<std::pair<std::string, bool>> list_repos(std::string_view user) = 0;

  // Creates a pending tag expecting `root_entry_json` at path "" (Created). On a pending tag:
  // the same `root_entry_json` resumes it (Resumed: id and stored nodes kept, meta/content
  // replaced); a different one restarts it (Created: new id, nodes dropped). Exists when the
  // tag is complete (nothing changed). Throws Error("drawbridge.store.no_repo").
  // A tag it creates (not one it resumes or restarts) must stay within quota.max_tags (else
  // throws quota_tags_reached).
  virtual PutResult put_tag(std::string_view user, std::string_view repo, std::string_view tag,
                            std::string_view meta_json, ByteView content,
                            std::string_view root_entry_json, const QuotaLimits& quota = {}) = 0;
  virtual std::optional<StoredTag> get_tag(std::string_view user, std::string_view repo,
                                           std::string_view tag) = 0;
  // Complete tags only, in no particular order.
  virtual std::vector<std::string> list_tags(std::string_view user, std::string_view repo) = 0;

  virtual std::optional<StoredNode> get_node(std::int64_t tag_id, std::string_view path) = 0;
  // Atomically: the tag must still be pending with this id (else TagGone); the node must be
  // expected (else NotExpected) and not present (else Exists); stores the blob (deduplicated),
  // marks the node present, adds `children` as expected, and completes the tag when nothing
  // is missing any more — appending `on_complete` to the audit log in that same transaction.
  // The node's declared length must keep the tag's owner within quota.max_bytes (else throws
  // quota_bytes_exceeded and stores nothing).
  virtual NodePutOutcome put_node(std::int64_t tag_id, std::string_view path,
                                  std::string_view blob_key, ByteView content,
                                  const std::vector<ChildExpectation>& children,
                                  const AuditEvent* on_complete = nullptr, const QuotaLimits& quota = {}) = 0;
  // A spool for one node body, computing `algorithms` (the embedded store spools into its data
  // directory's tmp/, so keeping the blob is a rename).
  virtual std::unique_ptr<BlobSpool> spool(std::vector<DigestAlgorithm> algorithms) = 0;
  // put_node with the content in a finished spool.
  virtual NodePutOutcome put_node_spooled(std::int64_t tag_id, std::string_view path,
                                          std::string_view blob_key, BlobSpool& spool,
                                          const std::vector<ChildExpectation>& children,
                                          const AuditEvent* on_complete = nullptr,
                                          const QuotaLimits& quota = {}) = 0;
  // Throws Error("drawbridge.store.blob_missing") if absent.
  virtual Bytes read_blob(std::string_view blob_key) = 0;
  // A local file holding the blob, when the back end has one (lets the server stream it).
  virtual std::optional<std::string> blob_file(std::string_view blob_key) {
    (void)blob_key;
    return std::nullopt;
  }

  // ---- sharing ----
  // The users registered with `subject` whose issuer is `issuer` or unrecorded (legacy rows:
  // the caller must still decide whether the token owns them), sorted by name.
  virtual std::vector<UserRef> user_for(std::string_view issuer, std::string_view subject) = 0;

  // Grants `grantee` (a user, or one of `user`'s groups) `access` to user/repo: Created, or
  // Exists when a grant was there (its access is replaced). Throws Error(kNotFound):
  // "drawbridge.store.no_repo", "drawbridge.share.no_user" (no such grantee user),
  // "drawbridge.share.no_group" (no such group of `user`).
  virtual PutResult put_grant(std::string_view user, std::string_view repo, Grantee kind,
                              std::string_view grantee, Access access, const AuditEvent* audit = nullptr) = 0;
  // false when there was no such grant.
  virtual bool delete_grant(std::string_view user, std::string_view repo, Grantee kind,
                            std::string_view grantee, const AuditEvent* audit = nullptr) = 0;
  // Sorted by kind (users first), then name.
  virtual std::vector<RepoGrant> list_grants(std::string_view user, std::string_view repo) = 0;
  // The strongest access `member` has to user/repo through a grant to them or to a group of
  // `user` they belong to; nullopt for none. Read at every request: revocation is immediate.
  virtual std::optional<Access> access_of(std::string_view user, std::string_view repo,
                                          std::string_view member) = 0;

  // Throws Error("drawbridge.store.no_user") if `owner` does not exist.
  virtual PutResult create_group(std::string_view owner, std::string_view group,
                                 const AuditEvent* audit = nullptr) = 0;
  // Removes the group, its members and every grant to it, atomically. false when absent.
  virtual bool delete_group(std::string_view owner, std::string_view group, const AuditEvent* audit = nullptr) = 0;
  virtual std::vector<std::string> list_groups(std::string_view owner) = 0;
  // Sorted member names; nullopt when the group does not exist.
  virtual std::optional<std::vector<std::string>> group_members(std::string_view owner,
                                                                std::string_view group) = 0;
  // Created, or Exists when already a member. Throws Error(kNotFound) "drawbridge.share.no_group"
  // or "drawbridge.share.no_user".
  virtual PutResult add_member(std::string_view owner, std::string_view group, std::string_view member,
                               const AuditEvent* audit = nullptr) = 0;
  // false when `member` was not in the group (or the group does not exist).
  virtual bool remove_member(std::string_view owner, std::string_view group, std::string_view member,
                             const AuditEvent* audit = nullptr) = 0;

  // ---- web UI (docs/drawbridge.md "Web UI") ----
  // Users with at least one public repository, sorted by name (bytewise), the first `limit`
  // after `after` ("" = from the start): a page of the UI's index, never the whole table.
  virtual std::vector<std::string> list_public_users(std::string_view after, std::size_t limit) = 0;

  virtual std::string describe() const = 0;

  // ---- yank, delete, registry audit log, quotas (docs/drawbridge.md "Yank and delete",
  // "Registry audit log", "Quotas"). Every mutation below appends its audit event in the same
  // transaction as the change, so the log never claims what did not happen nor misses what did.
  // Complete tags, yanked ones included (list_tags leaves those out), sorted by name.
  virtual std::vector<TagSummary> list_tag_summaries(std::string_view user, std::string_view repo) = 0;
  // Sets a complete tag's yank state; `event` is appended only when the state changed.
  virtual YankResult set_yanked(std::string_view user, std::string_view repo, std::string_view tag, bool yanked,
                                const AuditEvent& event) = 0;
  // Removes a tag (complete or pending) and its node rows; blobs stay for garbage collection.
  // A complete tag's name is tombstoned: put_tag refuses it from then on (Error kConflict
  // "drawbridge.tag.deleted", checked inside its transaction, serialized with this one; a
  // database trigger refuses any other insert of the name too). false when there was no such
  // tag.
  virtual bool delete_tag(std::string_view user, std::string_view repo, std::string_view tag,
                          const AuditEvent& event) = 0;
  // Removes a repository with its tags, nodes and grants (tombstoning its complete tags' names).
  // false when absent.
  virtual bool delete_repo(std::string_view user, std::string_view repo, const AuditEvent& event) = 0;
  // Whether user/repo:tag was deleted once complete (its name may not be published again).
  virtual bool tag_tombstoned(std::string_view user, std::string_view repo, std::string_view tag) = 0;
  // Appends one event on its own, outside any change (tools and tests; the registry hands its
  // events to the mutations above, which record them with the change).
  virtual void append_audit(const AuditEvent& event) = 0;
  // Events with seq > after (of `user`'s repositories only, when given), oldest first, at most
  // `limit`.
  virtual std::vector<AuditRecord> read_audit(std::optional<std::string_view> user, std::int64_t after,
                                              std::size_t limit) = 0;
  // What counts against `user`'s quotas: see QuotaUsage.
  virtual QuotaUsage usage(std::string_view user) = 0;
  // ---- garbage collection ----
  // See GcOptions. Throws Error("drawbridge.store.*") like the other operations; a run that
  // fails or is killed part-way leaves a consistent store, and the next run frees the rest.
  virtual GcReport collect_garbage(const GcOptions& options) = 0;
  virtual void set_test_hooks(StoreTestHooks hooks) { test_hooks_ = std::move(hooks); }

  // ---- changes made elsewhere ----
  // Calls `listener` (on a thread of the store's) soon after any instance on the same database
  // completes, yanks, un-yanks or deletes a tag or deletes a repository — another replica's
  // changes included — and whenever it may have missed such a change (after (re)connecting),
  // so that a replica's read cache can drop what is stale at once rather than after its ttl.
  // The calls stop when the returned subscription is destroyed (waiting for one in progress);
  // it must not outlive the store.
  // The embedded store has no other writer that changes what a cache holds: nullptr, no calls.
  class ChangeSubscription {
   public:
    virtual ~ChangeSubscription() = default;
  };
  virtual std::unique_ptr<ChangeSubscription> watch_changes(std::function<void()> listener) {
    (void)listener;
    return nullptr;
  }

 protected:
  StoreTestHooks test_hooks_;
};

// Lower-case hex SHA-256: the blob key.
std::string blob_key_of(ByteView content);

// Both back ends raise Error("drawbridge.store.full") when the database reports a full disk
// (SQLITE_FULL, SQLSTATE 53100) and Error("io.no_space") when a blob file cannot be written for
// lack of space, so that the registry can tell the operator's problem from a bug.

// Embedded default: <dir>/blobs/sha256/<2 hex>/<64 hex> + <dir>/meta.sqlite3 (WAL,
// synchronous=FULL). Creates the directory (0700) on first use and removes stale temp files.
std::unique_ptr<Store> open_sqlite_store(const std::string& data_dir);

// PostgreSQL (libpqxx): metadata and blobs (bytea) in one database, so several instances can
// serve one registry. `conninfo` is a libpq connection string. Creates the schema if missing.
// Node bodies are spooled in `spool_dir` (emptied of earlier spool files at open; default: the
// system temp directory, left alone) and read back whole to be inserted: at most
// kPgSpooledInserts of them at a time, each held about twice (the bytes and libpq's parameter).
inline constexpr int kPgSpooledInserts = 2;
std::unique_ptr<Store> open_postgres_store(const std::string& conninfo, int pool_size = 4,
                                           const std::filesystem::path& spool_dir = {});

// ---- garbage collection (opening) ----
// The embedded store for a process running beside the server on the same data directory
// (`drawbridge gc`): unlike open_sqlite_store it leaves <dir>/tmp alone, where the server's
// uploads in flight are spooled.
std::unique_ptr<Store> open_sqlite_store_shared(const std::string& data_dir);

}  // namespace enarx::drawbridge
