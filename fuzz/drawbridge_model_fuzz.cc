// Fuzzes the registry's parsers of uploaded JSON — tag entries, directory nodes, repository
// configs (with the steward setting), user records, JWS tags and the steward a tag states — all
// read from bodies any token holder can send. Anything but enarx::Error escaping, or a parsed
// value whose canonical form does not parse back to itself, is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "drawbridge/model.h"

namespace {

template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (const enarx::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace enarx::drawbridge;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  guarded([&] {
    auto e = parse_entry(text);
    if (!(parse_entry(entry_to_json(e)) == e)) __builtin_trap();
    if (auto url = tag_steward(e)) validate_steward_url(*url);
  });
  guarded([&] {
    auto d = parse_directory(text);
    if (directory_to_json(parse_directory(directory_to_json(d))) != directory_to_json(d)) __builtin_trap();
  });
  guarded([&] {
    auto r = parse_repo(text);
    auto again = parse_repo(repo_to_json(r));
    if (again.is_public != r.is_public || again.keeps != r.keeps || again.steward != r.steward) __builtin_trap();
  });
  guarded([&] {
    auto u = parse_user(text);
    if (parse_user(user_to_json(u)).subject != u.subject) __builtin_trap();
  });
  guarded([&] { (void)parse_jws(text); });
  guarded([&] { (void)tag_root_entry(std::string(kJwsType), text); });
  guarded([&] { validate_steward_url(text); });
  guarded([&] {
    if (auto url = parse_steward_setting(text)) validate_steward_url(*url);
  });
  return 0;
}
