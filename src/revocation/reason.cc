#include "revocation/reason.h"

#include <array>
#include <charconv>
#include <utility>

namespace enarx::revocation {
namespace {

constexpr std::array<std::pair<Reason, std::string_view>, 8> kNames{{
    {Reason::kUnspecified, "unspecified"},
    {Reason::kKeyCompromise, "keyCompromise"},
    {Reason::kCaCompromise, "cACompromise"},
    {Reason::kAffiliationChanged, "affiliationChanged"},
    {Reason::kSuperseded, "superseded"},
    {Reason::kCessationOfOperation, "cessationOfOperation"},
    {Reason::kPrivilegeWithdrawn, "privilegeWithdrawn"},
    {Reason::kAaCompromise, "aACompromise"},
}};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view reason_name(Reason reason) {
  for (const auto& [r, name] : kNames)
    if (r == reason) return name;
  return "unspecified";
}

std::optional<Reason> parse_reason(std::string_view text) {
  for (const auto& [r, name] : kNames)
    if (iequal(text, name)) return r;
  unsigned code = 0;
  const auto* end = text.data() + text.size();
  if (auto [p, ec] = std::from_chars(text.data(), end, code); ec == std::errc() && p == end && !text.empty())
    for (const auto& [r, name] : kNames)
      if (static_cast<unsigned>(r) == code) return r;
  return std::nullopt;
}

}  // namespace enarx::revocation
