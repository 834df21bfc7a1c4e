// libFuzzer target for the Enarx.toml parser (runtime/config.h). A deployed package's
// Enarx.toml comes from its publisher, so the runtime must not trust it.
// Invariants: no crash and no other exception escapes; every failure is a runtime.config.* code;
// an accepted config keeps the header's promises (names without ':', a host for every connect,
// env sorted by name; [[dirs]] names non-empty and unique, at most one assets entry, tmpfs
// sizes within bounds) and its workload environment starts with a matching FD_COUNT / FD_NAMES.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "runtime/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace enarx;
  using namespace enarx::runtime;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Config c = parse_config(text);
    for (const FileEntry& f : c.files) {
      if (f.name.find(':') != std::string::npos) std::abort();
      if (f.kind == FileKind::Connect && f.host.empty()) std::abort();
    }
    if (!std::is_sorted(c.env.begin(), c.env.end(),
                        [](const auto& a, const auto& b) { return a.first < b.first; }))
      std::abort();
    if (c.dirs) {
      if (c.dirs->size() > kMaxDirs) std::abort();
      int assets = 0;
      for (std::size_t i = 0; i < c.dirs->size(); ++i) {
        const DirEntry& d = (*c.dirs)[i];
        if (d.name.empty() || d.size > kMaxTmpfsBytes) std::abort();
        if (d.kind == DirKind::Assets && (++assets > 1 || d.size != 0)) std::abort();
        for (std::size_t j = 0; j < i; ++j)
          if ((*c.dirs)[j].name == d.name) std::abort();
      }
    }
    const auto env = workload_environment(c);
    if (env.size() < 2 || env[0] != "FD_COUNT=" + std::to_string(c.files.size()) ||
        env[1].rfind("FD_NAMES=", 0) != 0)
      std::abort();
  } catch (const Error& e) {
    if (e.code().rfind("runtime.config.", 0) != 0) std::abort();
  }
  return 0;
}
