// The in-memory file system (vfs.h): the read-only assets tree and writable in-keep directories.
#include <time.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#include "runtime/vfs.h"

namespace enarx::runtime::vfs {
namespace {

using namespace err;

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

struct Fs;

struct Node {
  enum class Kind { File, Dir, Symlink } kind = Kind::File;
  std::uint64_t ino = 0, nlink = 1;
  std::uint64_t atim = 0, mtim = 0, ctim = 0;
  // Files: `shared` holds an asset's bytes (read-only trees), `data` a writable file's.
  std::shared_ptr<const Bytes> shared;
  Bytes data;
  std::string target;  // symlinks
  // Directories: entries by name, and by the sequence number that makes their readdir cookie
  // (creation order), so a cookie stays valid when other entries come and go.
  struct Entry {
    std::uint64_t seq;
    std::shared_ptr<Node> node;
  };
  std::map<std::string, Entry, std::less<>> children;
  std::map<std::uint64_t, std::string> order;
  std::uint64_t next_seq = 2;  // 0 and 1 are "." and ".."
  Node* parent = nullptr;      // directories; null for the root and once removed
  bool removed = false;        // a removed directory takes no new entries
  // A writable file's or symlink's bytes leave the quota when the node goes: when its last name
  // is gone and no descriptor holds it open any more (as a disk frees an unlinked file's blocks
  // at the last close). Expired once the file system itself is gone.
  std::weak_ptr<Fs> owner;
  ~Node();

  bool is_dir() const { return kind == Kind::Dir; }
  std::uint64_t size() const {
    if (kind == Kind::File) return shared ? shared->size() : data.size();
    if (kind == Kind::Symlink) return target.size();
    return 0;
  }
  std::uint8_t type() const {
    return kind == Kind::Dir ? kDirectory : kind == Kind::File ? kRegular : kSymlink;
  }
};

struct Fs {
  bool readonly = false;
  std::uint64_t quota = 0, used = 0;
  std::uint64_t next_ino = 1;
  std::shared_ptr<Node> root;

  // Frees the tree without recursion: a guest can nest directories as deep as its quota allows
  // (relative to a descriptor deep inside, past any path length), and destroying that through
  // the nodes' own destructors would recurse once per level on the host's stack.
  ~Fs() {
    std::vector<std::shared_ptr<Node>> work;
    work.push_back(std::move(root));
    while (!work.empty()) {
      std::shared_ptr<Node> n = std::move(work.back());
      work.pop_back();
      if (!n) continue;
      for (auto& [name, entry] : n->children) work.push_back(std::move(entry.node));
      n->children.clear();
    }
  }

  std::shared_ptr<Node> make(Node::Kind k, const std::shared_ptr<Fs>& self) {
    auto n = std::make_shared<Node>();
    if (!readonly) n->owner = self;
    n->kind = k;
    n->ino = next_ino++;
    n->atim = n->mtim = n->ctim = now_ns();
    return n;
  }
  // Takes `bytes` from the quota, or answers ENOSPC.
  std::uint16_t charge(std::uint64_t bytes) {
    if (bytes > quota || used > quota - bytes) return kNospc;
    used += bytes;
    return 0;
  }
  void refund(std::uint64_t bytes) { used -= std::min(used, bytes); }
};

Node::~Node() {
  if (auto fs = owner.lock()) fs->refund(data.size() + target.size());
}

std::uint64_t entry_cost(std::string_view name) { return kNodeCost + name.size(); }

void insert(Node& dir, std::string name, std::shared_ptr<Node> n) {
  std::uint64_t seq = dir.next_seq++;
  dir.order.emplace(seq, name);
  if (n->is_dir()) n->parent = &dir;
  dir.children.emplace(std::move(name), Node::Entry{seq, std::move(n)});
  dir.mtim = dir.ctim = now_ns();
}

std::shared_ptr<Node> erase(Node& dir, std::string_view name) {
  auto it = dir.children.find(name);
  std::shared_ptr<Node> n = std::move(it->second.node);
  dir.order.erase(it->second.seq);
  dir.children.erase(it);
  dir.mtim = dir.ctim = now_ns();
  return n;
}

// A resolved path: the directory holding its last component, that component, and the node it
// names (null when it does not exist).
struct Walk {
  std::vector<std::shared_ptr<Node>> stack;  // from the descriptor's directory to the parent
  std::string last;
  bool trailing_slash = false;
  std::shared_ptr<Node> node;
  Node& parent() const { return *stack.back(); }
  bool dot() const { return last == "." || last == ".."; }
};

// Resolves `path` below `start`, WASI style: the walk never climbs above `start` (ENOTCAPABLE),
// absolute paths and absolute symlink targets are refused (ENOTCAPABLE), more than kMaxSymlinks
// links give ELOOP. A missing last component is not an error (node is null): the caller decides.
std::uint16_t walk(const std::shared_ptr<Node>& start, std::string_view path, bool follow_last,
                   Walk* w) {
  if (path.size() > kMaxPathBytes) return kNametoolong;
  if (path.empty()) return kNoent;
  if (path.front() == '/') return kNotcapable;
  w->stack.assign(1, start);
  std::deque<std::string> parts;
  auto push_parts = [&](std::string_view p, bool front) {
    std::vector<std::string> v;
    for (std::size_t pos = 0; pos <= p.size();) {
      std::size_t slash = p.find('/', pos);
      if (slash == std::string_view::npos) slash = p.size();
      v.emplace_back(p.substr(pos, slash - pos));
      pos = slash + 1;
    }
    if (front)
      parts.insert(parts.begin(), v.begin(), v.end());
    else
      parts.insert(parts.end(), v.begin(), v.end());
  };
  push_parts(path, false);
  // "a/b/" is "a/b" that must be a directory; "a//b" is "a/b".
  auto trim = [&] {
    while (parts.size() > 1 && parts.back().empty()) {
      parts.pop_back();
      w->trailing_slash = true;
    }
  };
  w->trailing_slash = false;
  trim();
  int links = 0;
  w->node = nullptr;
  while (!parts.empty()) {
    std::string p = std::move(parts.front());
    parts.pop_front();
    bool last = parts.empty();
    Node& cur = *w->stack.back();
    if (p.size() > kMaxNameBytes) return kNametoolong;
    if (!cur.is_dir()) return kNotdir;
    if (p.empty() || p == ".") {
      if (last) {
        w->last = ".";
        w->node = w->stack.back();
      }
      continue;
    }
    if (p == "..") {
      if (w->stack.size() == 1) return kNotcapable;
      if (last) {
        w->last = "..";
        w->stack.pop_back();
        w->node = w->stack.back();
      } else {
        w->stack.pop_back();
      }
      continue;
    }
    if (cur.removed) return kNoent;
    auto it = cur.children.find(p);
    if (it == cur.children.end()) {
      if (!last) return kNoent;
      w->last = std::move(p);
      w->node = nullptr;
      return 0;
    }
    const std::shared_ptr<Node>& n = it->second.node;
    if (n->kind == Node::Kind::Symlink && (!last || follow_last || w->trailing_slash)) {
      if (++links > kMaxSymlinks) return kLoop;
      if (n->target.empty()) return kNoent;
      if (n->target.front() == '/') return kNotcapable;
      bool had_trailing = w->trailing_slash;
      push_parts(n->target, true);
      if (last) {
        w->trailing_slash = false;
        trim();
        w->trailing_slash = w->trailing_slash || had_trailing;
      }
      continue;
    }
    if (last) {
      w->last = std::move(p);
      w->node = n;
      return 0;
    }
    if (n->kind != Node::Kind::Dir) return kNotdir;
    w->stack.push_back(n);
  }
  return 0;
}

class MemObject final : public Object {
 public:
  MemObject(std::shared_ptr<Fs> fs, std::shared_ptr<Node> node)
      : fs_(std::move(fs)), node_(std::move(node)) {}

  bool is_dir() const override { return node_->is_dir(); }
  const void* fs_id() const override { return fs_.get(); }
  bool read_only() const override { return fs_->readonly; }

  std::uint16_t stat(Stat* out) override {
    fill(*node_, out);
    return 0;
  }

  std::uint16_t pread(std::uint8_t* dst, std::size_t len, std::uint64_t at,
                      std::size_t* got) override {
    *got = 0;
    if (node_->is_dir()) return kIsdir;
    std::uint64_t size = node_->size();
    if (at >= size) return 0;
    *got = static_cast<std::size_t>(std::min<std::uint64_t>(len, size - at));
    const std::uint8_t* src = node_->shared ? node_->shared->data() : node_->data.data();
    std::memcpy(dst, src + at, *got);
    return 0;
  }

  std::uint16_t pwrite(const std::uint8_t* src, std::size_t len, std::uint64_t at,
                       std::size_t* put) override {
    *put = 0;
    if (node_->is_dir()) return kIsdir;
    if (fs_->readonly) return kRofs;
    Bytes& d = node_->data;
    std::uint64_t end = at + len;
    if (end < at) return kFbig;
    if (end > d.size()) {
      // Write what the quota still holds; nothing at all is ENOSPC, as a full disk answers.
      std::uint64_t room = fs_->quota > fs_->used ? fs_->quota - fs_->used : 0;
      std::uint64_t grow = end - d.size();
      if (grow > room) {
        if (at + 0 >= d.size() + room) return kNospc;
        len = static_cast<std::size_t>(d.size() + room - at);
        end = at + len;
        grow = end - d.size();
      }
      fs_->used += grow;
      d.resize(static_cast<std::size_t>(end));
    }
    std::memcpy(d.data() + at, src, len);
    *put = len;
    node_->mtim = node_->ctim = now_ns();
    return 0;
  }

  std::uint16_t set_size(std::uint64_t size) override {
    if (node_->is_dir()) return kIsdir;
    if (fs_->readonly) return kRofs;
    return resize(*node_, size);
  }

  std::uint16_t set_times(std::uint64_t atim, std::uint64_t mtim, std::uint16_t flags) override {
    if (fs_->readonly) return kRofs;
    return times(*node_, atim, mtim, flags);
  }

  std::uint16_t allocate(std::uint64_t offset, std::uint64_t len) override {
    if (node_->is_dir()) return kIsdir;
    if (fs_->readonly) return kRofs;
    std::uint64_t end = offset + len;
    if (end < offset) return kFbig;
    return end > node_->size() ? resize(*node_, end) : 0;
  }

  std::uint16_t sync() override { return 0; }

  std::uint16_t readdir(std::uint64_t cookie, std::size_t max, std::vector<Dirent>* out) override {
    if (!node_->is_dir()) return kNotdir;
    const Node& d = *node_;
    if (cookie == 0 && out->size() < max) out->push_back({1, d.ino, kDirectory, "."});
    if (cookie <= 1 && out->size() < max)
      out->push_back({2, d.parent ? d.parent->ino : d.ino, kDirectory, ".."});
    for (auto it = d.order.lower_bound(std::max<std::uint64_t>(cookie, 2));
         it != d.order.end() && out->size() < max; ++it) {
      const Node& n = *d.children.find(it->second)->second.node;
      out->push_back({it->first + 1, n.ino, n.type(), it->second});
    }
    return 0;
  }

  std::uint16_t open(std::string_view path, const OpenRequest& req,
                     std::unique_ptr<Object>* out) override {
    Walk w;
    if (auto e = walk(node_, path, req.follow, &w)) return e;
    std::shared_ptr<Node> n = w.node;
    if (!n) {
      if (!(req.oflags & kOCreat)) return kNoent;
      if (w.trailing_slash || (req.oflags & kODirectory)) return w.trailing_slash ? kIsdir : kInval;
      if (fs_->readonly) return kRofs;
      if (w.parent().removed) return kNoent;
      if (auto e = fs_->charge(entry_cost(w.last))) return e;
      n = fs_->make(Node::Kind::File, fs_);
      insert(w.parent(), w.last, n);
    } else {
      if ((req.oflags & kOCreat) && (req.oflags & kOExcl)) return kExist;
      if (n->kind == Node::Kind::Symlink) return (req.oflags & kODirectory) ? kNotdir : kLoop;
      if ((req.oflags & kODirectory) && !n->is_dir()) return kNotdir;
      if (w.trailing_slash && !n->is_dir()) return kNotdir;
      if (n->is_dir() && (req.write || (req.oflags & kOTrunc))) return kIsdir;
      if (req.write && fs_->readonly) return kRofs;
      if (req.oflags & kOTrunc) {
        if (fs_->readonly) return kRofs;
        if (auto e = resize(*n, 0)) return e;
      }
    }
    if ((req.oflags & kOCreat) && fs_->readonly) return kRofs;
    *out = std::make_unique<MemObject>(fs_, n);
    return 0;
  }

  std::uint16_t path_stat(std::string_view path, bool follow, Stat* out) override {
    Walk w;
    if (auto e = lookup(path, follow, &w)) return e;
    fill(*w.node, out);
    return 0;
  }

  std::uint16_t path_set_times(std::string_view path, bool follow, std::uint64_t atim,
                               std::uint64_t mtim, std::uint16_t flags) override {
    if (fs_->readonly) return path.size() > kMaxPathBytes ? kNametoolong : kRofs;
    Walk w;
    if (auto e = lookup(path, follow, &w)) return e;
    if (fs_->readonly) return kRofs;
    return times(*w.node, atim, mtim, flags);
  }

  std::uint16_t mkdir(std::string_view path) override {
    if (fs_->readonly) return path.size() > kMaxPathBytes ? kNametoolong : kRofs;
    Walk w;
    if (auto e = walk(node_, path, false, &w)) return e;
    if (w.node || w.dot()) return kExist;
    if (fs_->readonly) return kRofs;
    if (w.parent().removed) return kNoent;
    if (auto e = fs_->charge(entry_cost(w.last))) return e;
    insert(w.parent(), w.last, fs_->make(Node::Kind::Dir, fs_));
    return 0;
  }

  std::uint16_t rmdir(std::string_view path) override {
    if (fs_->readonly) return path.size() > kMaxPathBytes ? kNametoolong : kRofs;
    Walk w;
    if (auto e = walk(node_, path, false, &w)) return e;
    if (w.last == ".") return kInval;
    if (w.last == "..") return kNotempty;
    if (!w.node) return kNoent;
    if (!w.node->is_dir()) return kNotdir;
    if (fs_->readonly) return kRofs;
    if (!w.node->children.empty()) return kNotempty;
    w.node->removed = true;
    w.node->parent = nullptr;
    erase(w.parent(), w.last);
    fs_->refund(entry_cost(w.last));
    return 0;
  }

  std::uint16_t unlink(std::string_view path) override {
    if (fs_->readonly) return path.size() > kMaxPathBytes ? kNametoolong : kRofs;
    Walk w;
    if (auto e = walk(node_, path, false, &w)) return e;
    if (w.dot()) return kIsdir;
    if (!w.node) return kNoent;
    if (w.node->is_dir()) return kIsdir;
    if (w.trailing_slash) return kNotdir;
    if (fs_->readonly) return kRofs;
    std::shared_ptr<Node> n = erase(w.parent(), w.last);
    fs_->refund(entry_cost(w.last));
    drop_link(*n);
    return 0;
  }

  std::uint16_t symlink(std::string_view target, std::string_view path) override {
    if (target.size() > kMaxPathBytes || path.size() > kMaxPathBytes) return kNametoolong;
    if (fs_->readonly) return kRofs;
    Walk w;
    if (auto e = walk(node_, path, false, &w)) return e;
    if (w.node || w.dot()) return kExist;
    if (w.trailing_slash) return kNoent;
    if (fs_->readonly) return kRofs;
    // An absolute target could never be followed (walk() refuses it); refused at creation as
    // for host directories, so that the tree holds no link that only looks like it works.
    if (!target.empty() && target.front() == '/') return kNotcapable;
    if (w.parent().removed) return kNoent;
    if (auto e = fs_->charge(entry_cost(w.last) + target.size())) return e;
    auto n = fs_->make(Node::Kind::Symlink, fs_);
    n->target = std::string(target);
    insert(w.parent(), w.last, n);
    return 0;
  }

  std::uint16_t readlink(std::string_view path, std::string* out) override {
    Walk w;
    if (auto e = walk(node_, path, false, &w)) return e;
    if (!w.node) return kNoent;
    if (w.node->kind != Node::Kind::Symlink || w.trailing_slash) return kInval;
    *out = w.node->target;
    return 0;
  }

  std::uint16_t link(std::string_view path, bool follow, Object& to_obj,
                     std::string_view to_path) override {
    if (path.size() > kMaxPathBytes || to_path.size() > kMaxPathBytes) return kNametoolong;
    if (fs_->readonly) return kRofs;
    if (to_obj.fs_id() != fs_id()) return kXdev;
    auto& to = static_cast<MemObject&>(to_obj);
    Walk src, dst;
    if (auto e = lookup(path, follow, &src)) return e;
    if (auto e = walk(to.node_, to_path, false, &dst)) return e;
    if (src.node->is_dir()) return kPerm;
    if (dst.node || dst.dot()) return kExist;
    if (dst.trailing_slash) return kNoent;
    if (fs_->readonly) return kRofs;
    if (dst.parent().removed) return kNoent;
    if (auto e = fs_->charge(entry_cost(dst.last))) return e;
    ++src.node->nlink;
    src.node->ctim = now_ns();
    insert(dst.parent(), dst.last, src.node);
    return 0;
  }

  std::uint16_t rename(std::string_view path, Object& to_obj, std::string_view to_path) override {
    if (path.size() > kMaxPathBytes || to_path.size() > kMaxPathBytes) return kNametoolong;
    if (fs_->readonly) return kRofs;
    if (to_obj.fs_id() != fs_id()) return kXdev;
    auto& to = static_cast<MemObject&>(to_obj);
    Walk src, dst;
    if (auto e = walk(node_, path, false, &src)) return e;
    if (auto e = walk(to.node_, to_path, false, &dst)) return e;
    if (src.dot() || dst.dot()) return kBusy;
    if (!src.node) return kNoent;
    bool src_dir = src.node->is_dir();
    if (!src_dir && (src.trailing_slash || dst.trailing_slash)) return kNotdir;
    if (fs_->readonly) return kRofs;
    if (dst.parent().removed) return kNoent;
    if (dst.node) {
      if (dst.node == src.node) return 0;  // the same file (hard links): nothing to do
      if (src_dir && !dst.node->is_dir()) return kNotdir;
      if (!src_dir && dst.node->is_dir()) return kIsdir;
      if (dst.node->is_dir() && !dst.node->children.empty()) return kNotempty;
    }
    // A directory cannot move below itself.
    if (src_dir)
      for (const Node* p = &dst.parent(); p; p = p->parent)
        if (p == src.node.get()) return kInval;
    std::uint64_t new_cost = entry_cost(dst.last), old_cost = entry_cost(src.last);
    std::uint64_t replaced_cost = dst.node ? new_cost : 0;
    if (new_cost > old_cost + replaced_cost)
      if (auto e = fs_->charge(new_cost - old_cost - replaced_cost)) return e;
    if (dst.node) {
      std::shared_ptr<Node> gone = erase(dst.parent(), dst.last);
      if (gone->is_dir()) {
        gone->removed = true;
        gone->parent = nullptr;
      } else {
        drop_link(*gone);
      }
    }
    std::shared_ptr<Node> n = erase(src.parent(), src.last);
    insert(dst.parent(), dst.last, n);
    if (new_cost < old_cost + replaced_cost) fs_->refund(old_cost + replaced_cost - new_cost);
    n->ctim = now_ns();
    return 0;
  }

  static std::unique_ptr<Object> root_of(std::shared_ptr<Fs> fs) {
    auto root = fs->root;
    return std::make_unique<MemObject>(std::move(fs), std::move(root));
  }

 private:
  std::uint16_t lookup(std::string_view path, bool follow, Walk* w) {
    if (auto e = walk(node_, path, follow, w)) return e;
    if (!w->node) return kNoent;
    if (w->trailing_slash && !w->node->is_dir()) return kNotdir;
    return 0;
  }

  void fill(const Node& n, Stat* out) const {
    out->dev = reinterpret_cast<std::uintptr_t>(fs_.get()) >> 4;
    out->ino = n.ino;
    out->type = n.type();
    out->nlink = n.nlink;
    out->size = n.size();
    out->atim = n.atim;
    out->mtim = n.mtim;
    out->ctim = n.ctim;
  }

  std::uint16_t resize(Node& n, std::uint64_t size) {
    std::uint64_t old = n.data.size();
    if (size > old) {
      if (auto e = fs_->charge(size - old)) return e;
    } else {
      fs_->refund(old - size);
    }
    n.data.resize(static_cast<std::size_t>(size));
    if (size < old) n.data.shrink_to_fit();
    n.mtim = n.ctim = now_ns();
    return 0;
  }

  std::uint16_t times(Node& n, std::uint64_t atim, std::uint64_t mtim, std::uint16_t flags) {
    if (((flags & kAtim) && (flags & kAtimNow)) || ((flags & kMtim) && (flags & kMtimNow)) ||
        (flags & ~std::uint16_t{kAtim | kAtimNow | kMtim | kMtimNow}))
      return kInval;
    std::uint64_t now = now_ns();
    if (flags & kAtim) n.atim = atim;
    if (flags & kAtimNow) n.atim = now;
    if (flags & kMtim) n.mtim = mtim;
    if (flags & kMtimNow) n.mtim = now;
    n.ctim = now;
    return 0;
  }

  // One name fewer for a file (its bytes leave the quota in ~Node, once nothing holds it).
  void drop_link(Node& n) {
    if (n.nlink > 0) --n.nlink;
    n.ctim = now_ns();
  }

  std::shared_ptr<Fs> fs_;
  std::shared_ptr<Node> node_;
};

// Iterative, like ~Fs: a package's tree may be deep.
void copy_assets(Fs& fs, const AssetNode& from, Node& to) {
  std::vector<std::pair<const AssetNode*, Node*>> work{{&from, &to}};
  while (!work.empty()) {
    auto [src, dst] = work.back();
    work.pop_back();
    for (const auto& [name, child] : src->children) {
      auto n = fs.make(child->is_dir ? Node::Kind::Dir : Node::Kind::File, nullptr);
      if (child->is_dir)
        work.emplace_back(child.get(), n.get());
      else
        n->shared = child->data;
      insert(*dst, name, n);
    }
  }
}

}  // namespace

std::unique_ptr<Object> open_assets(const AssetNode& root) {
  auto fs = std::make_shared<Fs>();
  fs->readonly = true;
  fs->root = fs->make(Node::Kind::Dir, fs);
  copy_assets(*fs, root, *fs->root);
  return MemObject::root_of(std::move(fs));
}

std::unique_ptr<Object> make_memfs(std::uint64_t quota) {
  auto fs = std::make_shared<Fs>();
  fs->quota = quota;
  fs->root = fs->make(Node::Kind::Dir, fs);
  return MemObject::root_of(std::move(fs));
}

}  // namespace enarx::runtime::vfs
